"""Placeholder resolution as a pure function: a table of cases."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.apply.placeholders import PlaceholderError, references, resolve, scrub

RESULTS = {
    "object:tool": "obj_1",
    "snapshot:golden": "snp_2",
    "devbox:devbox.builder": "dbx_3",
}
ENV = {"TOKEN": "s3cret-value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("${object:tool}", "obj_1"),
        ("id=${snapshot:golden};box=${devbox:devbox.builder}", "id=snp_2;box=dbx_3"),
        (
            {"mounts": [{"object_id": "${object:tool}", "n": 3}]},
            {"mounts": [{"object_id": "obj_1", "n": 3}]},
        ),
        (["${env:TOKEN}", None, True], ["s3cret-value", None, True]),
        ("${env:EMPTY}", ""),
        (
            "no placeholders, $ {object:tool} or ${unknown:x}",
            "no placeholders, $ {object:tool} or ${unknown:x}",
        ),
        ("dbx_already_real", "dbx_already_real"),
    ],
    ids=[
        "whole",
        "embedded-two",
        "nested",
        "env-in-list",
        "env-empty",
        "not-placeholders",
        "plain-id",
    ],
)
def test_resolves(given: Any, expected: Any) -> None:
    assert resolve(given, RESULTS, ENV).value == expected


def test_secrets_used_are_reported_so_they_can_be_scrubbed() -> None:
    resolution = resolve({"env": {"A": "${env:TOKEN}"}}, RESULTS, ENV)
    assert resolution.secrets == {"s3cret-value"}
    assert (
        scrub("failed: bad s3cret-value here", resolution.secrets) == "failed: bad (sensitive) here"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("${object:missing}", "no id for ${object:missing}"),
        ("${devbox:devbox.other}", "no id for ${devbox:devbox.other}"),
        ("${env:UNSET}", "environment variable UNSET is not set"),
    ],
    ids=["object", "devbox", "env"],
)
def test_unresolvable_placeholders_fail_clearly(given: str, message: str) -> None:
    with pytest.raises(PlaceholderError, match=message.replace("$", r"\$").replace("{", r"\{")):
        resolve(given, RESULTS, ENV)


def test_references_lists_result_keys_but_not_env() -> None:
    params = {"a": "${object:tool}", "b": ["${env:TOKEN}", "${snapshot:golden}"]}
    assert references(params) == {"object:tool", "snapshot:golden"}
