"""Property: a mangled manifest is either valid or a clean ManifestError with located problems.

Valid manifests are mutated at the data level (drop, rename or retype a key, insert junk) and at
the text level (duplicate a line, truncate, insert text or bytes, replace it all with bytes); the
loader must never raise anything but ManifestError, and every problem must point into the file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.errors import ManifestError
from reconcile.manifest import load_manifest

REPO = Path(__file__).resolve().parents[2]
BASES = sorted((REPO / "tests/data/valid").glob("*.yaml")) + sorted(
    (REPO / "manifests").glob("*.yaml")
)
ENVIRON = {"CI_TOKEN": "ci-token-not-secret", "API_HOST": "api.example.test"}
SETTINGS = settings(
    # RLSTATE_MUTANTS=5000 for a deeper run than CI's.
    max_examples=int(os.environ.get("RLSTATE_MUTANTS", "250")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["1h", "0s", "SMALL", "${env:CI_TOKEN}", "${env:", "obj_1", "golden"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the files the example manifests name (artifacts/…, files/…)."""
    folder = tmp_path_factory.mktemp("mutants")
    shutil.copytree(REPO / "tests/data/valid/artifacts", folder / "artifacts")
    shutil.copytree(REPO / "manifests/files", folder / "files")
    return folder


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if isinstance(value, dict | list) else []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, item in items:
        found += _containers(item, (*path, key))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def data_mutants(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from(BASES))
    document = yaml.safe_load(base.read_text(encoding="utf-8-sig"))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        containers = _containers(document)
        target = _at(document, draw(st.sampled_from(containers)))
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        action = draw(st.sampled_from(["drop", "rename", "retype", "insert"]))
        if action == "insert" or not keys:
            key = draw(st.text(max_size=8)) if isinstance(target, dict) else None
            target.__setitem__(key, draw(values)) if key is not None else target.append(
                draw(values)
            )
            continue
        key = draw(st.sampled_from(keys))
        if action == "drop":
            del target[key]
        elif action == "retype":
            target[key] = draw(values)
        elif isinstance(target, dict):
            target[draw(st.text(max_size=10))] = target.pop(key)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode("utf-8")


@st.composite
def text_mutants(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(BASES)).read_bytes()
    action = draw(st.sampled_from(["duplicate-line", "truncate", "insert", "bytes", "delete"]))
    at = draw(st.integers(min_value=0, max_value=len(raw)))
    if action == "duplicate-line":
        lines = raw.splitlines(keepends=True)
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        return b"".join(lines[: i + 1] + lines[i:])
    if action == "truncate":
        return raw[:at]
    if action == "insert":
        junk = draw(
            st.text(max_size=8) | st.sampled_from([":", "- ", "\t", "{", "&a", "*a", "<<: "])
        )
        return raw[:at] + junk.encode("utf-8") + raw[at:]
    if action == "delete":
        return raw[:at] + raw[at + draw(st.integers(min_value=1, max_value=20)) :]
    return draw(st.binary(max_size=200))


def _check(workdir: Path, content: bytes) -> None:
    path = workdir / "rlstate.yaml"
    path.write_bytes(content)
    lines = content.count(b"\n") + 1
    try:
        load_manifest(path, ENVIRON, hash_objects=False)
    except ManifestError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == str(path)
            assert 1 <= problem.line <= lines, str(problem)
            assert problem.column >= 1
            assert "\n" not in str(problem)


@SETTINGS
@given(content=data_mutants())
def test_data_mutants_fail_cleanly(workdir: Path, content: bytes) -> None:
    _check(workdir, content)


@SETTINGS
@given(content=text_mutants())
def test_text_mutants_fail_cleanly(workdir: Path, content: bytes) -> None:
    _check(workdir, content)
