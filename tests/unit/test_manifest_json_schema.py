"""The manifest's JSON Schema (for editors) accepts every example and rejects shape mistakes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from reconcile.manifest import manifest_json_schema

REPO = Path(__file__).resolve().parents[2]
GOOD = sorted((REPO / "manifests").glob("*.yaml")) + sorted(
    (REPO / "tests/data/valid").glob("*.yaml")
)
# Invalid manifests whose mistake is one of shape, which an editor can flag while typing.
SHAPE_MISTAKES = [
    "01-version-2",
    "04-stack-missing",
    "05-stack-uppercase",
    "07-unknown-top-level-field",
    "08-unknown-devbox-field",
    "10-bad-duration",
    "11-duration-as-number",
    "12-bad-resource-size",
    "16-env-value-boolean",
    "19-replicas-zero",
    "43-keep-missing",
    "44-bad-devbox-name",
    "45-mount-path-relative",
    "53-bad-moved-address",
    "59-bad-content-type",
    "60-keep-negative",
    "79-blueprint-fields",
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = manifest_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _document(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8-sig"))


@pytest.mark.parametrize("path", GOOD, ids=[f"{p.parent.name}/{p.stem}" for p in GOOD])
def test_every_example_fits_the_json_schema(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_document(path))
    ]
    assert errors == []


@pytest.mark.parametrize("name", SHAPE_MISTAKES)
def test_the_json_schema_flags_shape_mistakes(
    name: str, validator: jsonschema.Draft202012Validator
) -> None:
    document = _document(REPO / "tests/data/invalid" / f"{name}.yaml")
    assert not validator.is_valid(document)


def test_durations_are_described_as_the_manifest_spells_them() -> None:
    keep_alive = manifest_json_schema()["$defs"]["DevboxSpec"]["properties"]["keep_alive"]
    duration = next(option for option in keep_alive["anyOf"] if option.get("type") == "string")
    assert "format" not in duration  # JSON Schema's `duration` format is ISO 8601
    assert duration["pattern"] == "^([0-9]+)([smhdw])$"


def test_blueprints_are_a_section_of_named_specs() -> None:
    schema = manifest_json_schema()
    section = schema["properties"]["blueprints"]
    assert section["additionalProperties"] is False
    spec = schema["$defs"]["BlueprintSpec"]["properties"]
    assert {"dockerfile", "dockerfile_file", "base", "system_setup_commands", "keep"} <= set(spec)
