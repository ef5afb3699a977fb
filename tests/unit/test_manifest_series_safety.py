"""The series fields that make retention safe: max_prune, prune.grace, alert_after."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from reconcile.errors import ManifestError
from reconcile.manifest import load_manifest

SERIES = """\
version: 1
stack: s
devboxes: {a: {}}
snapshots:
  nightly:
    devbox: a
    every: 24h
    keep: {last: 3}
"""


def load(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "rlstate.yaml"
    path.write_text(SERIES + extra)
    return load_manifest(path).manifest.snapshots["nightly"]


def test_defaults_are_a_half_no_grace_and_no_alert(tmp_path: Path) -> None:
    spec = load(tmp_path, "")
    assert (spec.max_prune, spec.prune.grace, spec.alert_after) == (0.5, None, None)  # type: ignore[attr-defined]


def test_the_fields_parse(tmp_path: Path) -> None:
    spec = load(tmp_path, "    max_prune: 100%\n    prune: {grace: 24h}\n    alert_after: 36h\n")
    assert spec.max_prune == 1.0  # type: ignore[attr-defined]
    assert spec.prune.grace == timedelta(hours=24)  # type: ignore[attr-defined]
    assert spec.alert_after == timedelta(hours=36)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["150%", "half", "50", "-5%"])
def test_a_bad_max_prune_is_one_located_line(tmp_path: Path, value: str) -> None:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, f"    max_prune: {value}\n")
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (9, "snapshots.nightly.max_prune")
    assert "percentage from 0% to 100%" in str(caught.value)
