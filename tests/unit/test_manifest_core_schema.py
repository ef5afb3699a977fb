"""The stored core schema (reconcile/manifest/core_schema.json) is the models' own, and checks
exactly as pydantic's validator of the models does.

`rlstate validate` checks with the stored schema and pydantic-core alone, so that it never
builds the models. Change a model in schema.py, then refresh the stored schema with
RLSTATE_UPDATE_GOLDEN=1 (and read the diff). A stored schema from another pydantic-core version
is not an error (a fresh install may bring a newer one): validate then checks with the models,
and the tests that need the stored one skip, saying that it needs the refresh.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pydantic_core
import pytest
import yaml
from pydantic import AfterValidator, BaseModel, ValidationError

from reconcile.manifest.schema import Manifest
from reconcile.manifest.schema_check import (
    STORED,
    schema_errors,
    stored_form,
    stored_is_current,
    stored_text,
    stored_validator,
)
from tests.helpers import updating_goldens

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted(
    [*(REPO / "tests/data").glob("*/*.yaml"), *(REPO / "manifests").glob("*.yaml")],
)
# Documents wrong in ways the corpus files (each about one rule) rarely combine.
MIXED: list[Any] = [
    None,
    7,
    "a string",
    [{"version": 1}],
    {},
    {"version": 2, "stack": "Bad Stack", "extra": True},
    {
        "version": 1,
        "stack": "s",
        "devboxes": {
            "plain": 3,
            "BAD": {"resource_size": "BIG", "keep_alive": "3x", "replicas": 0},
            "mounted": {"mounts": [{"object": 1, "path": "rel"}, 4], "lifecycle": "no"},
            "idle": {"idle": {"after": 5, "action": "sleep"}, "env": {"A": 1}, "state": None},
        },
        "moved": [{"from": "x", "to": "devbox.a"}, {"from_": "devbox.b", "to": 1}, 5],
        "import": [{"to": "nope", "id": 3}],
        "imports": [],
    },
    {
        "version": True,
        "stack": "s",
        "snapshots": {
            "s": {
                "devbox": "a",
                "keep": {"last": -1, "within": "x", "weekly": 1.5},
                "max_prune": "150%",
                "verify": {"command": "", "every": 0},
                "prune": {"grace": "1q"},
                "lifecycle": {"prevent_destroy": "yes"},
            },
            "t": {"devbox": "a", "keep": None, "every": 5},
        },
        "objects": {"o": {"path": 1, "ttl": True, "content_type": "zip", "metadata": []}},
        "blueprints": {"b": {"keep": {"last": 0}, "build_args": {"a": 1}, "dockerfile": 1}},
        "defaults": {"architecture": "x86", "bogus": 1, "launch_commands": "ls"},
        "backend": {"postgres": {}},
    },
]


OTHER_VERSION = (
    "core_schema.json was generated with another pydantic-core than the installed"
    f" {pydantic_core.__version__} (validate checks with the models until it is refreshed with"
    " RLSTATE_UPDATE_GOLDEN=1)"
)


def _pydantic_errors(document: Any) -> list[dict[str, Any]]:
    try:
        Manifest.model_validate(document, strict=True)
    except ValidationError as error:
        return _comparable(error.errors(include_url=False))
    return []


def _comparable(errors: Any) -> list[dict[str, Any]]:
    """Error records with their context as text (a ValueError equals only itself)."""
    return [{**e, "ctx": {k: str(v) for k, v in e.get("ctx", {}).items()}} for e in errors]


def _stored_errors(document: Any) -> list[dict[str, Any]]:
    try:
        stored_validator().validate_python(document, strict=True)
    except ValidationError as error:
        return _comparable(error.errors(include_url=False))
    return []


def test_the_stored_schema_is_the_models_own() -> None:
    expected = stored_text(Manifest.__pydantic_core_schema__)
    if updating_goldens():
        STORED.write_text(expected, encoding="utf-8")
    stored = json.loads(STORED.read_text(encoding="utf-8"))
    generated = json.loads(expected)
    version = stored.pop("pydantic_core")
    del generated["pydantic_core"]
    if stored != generated and version != pydantic_core.__version__:
        pytest.skip(OTHER_VERSION)
    assert stored == generated, "core_schema.json is stale: refresh it with RLSTATE_UPDATE_GOLDEN=1"


def _documents() -> list[Any]:
    found = [*MIXED]
    for path in CORPUS:
        try:
            found.append(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # the YAML reader's own problems; the schema never sees these files
    return found


def test_the_stored_schema_reports_what_the_models_report() -> None:
    if not stored_is_current():
        pytest.skip(OTHER_VERSION)
    documents = _documents()
    with_errors = 0
    for document in documents:
        expected = _pydantic_errors(document)
        assert _stored_errors(document) == expected, repr(document)[:200]
        with_errors += bool(expected)
    assert len(documents) > 80 and with_errors > 40, with_errors  # it covered real errors


def test_with_another_pydantic_core_the_models_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pydantic_core, "__version__", "0.0.1")
    for document in MIXED:
        assert _comparable(schema_errors(document)) == _pydantic_errors(document)


def test_a_validator_the_stored_schema_cannot_name_is_refused() -> None:
    class Odd(BaseModel):
        value: Annotated[int, AfterValidator(lambda v: v)]

    with pytest.raises(ValueError, match="add it to FUNCTIONS"):
        stored_form(Odd.__pydantic_core_schema__)
