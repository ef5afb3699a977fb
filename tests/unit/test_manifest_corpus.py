"""The manifest corpus: each invalid manifest reports exactly its problems; valid ones load.

tests/data/invalid/NN-name.yaml pairs with NN-name.expected, one `line:col: path: message` per
line. Refresh the expected files with RLSTATE_UPDATE_GOLDEN=1 (then read the diff).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.errors import ManifestError
from reconcile.manifest import load_manifest
from tests.helpers import updating_goldens

REPO = Path(__file__).resolve().parents[2]
INVALID = sorted((REPO / "tests/data/invalid").glob("*.yaml"))
VALID = sorted((REPO / "tests/data/valid").glob("*.yaml"))
EXAMPLES = sorted((REPO / "manifests").glob("*.yaml"))
# The only variables the corpus refers to; RLSTATE_TEST_UNSET_VARIABLE is deliberately absent.
ENVIRON = {"CI_TOKEN": "ci-token-not-secret", "API_HOST": "api.example.test"}
UPDATE = updating_goldens()


def _problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, ENVIRON)
    lines = []
    for problem in caught.value.problems:
        assert problem.file == str(path)
        lines.append(str(problem).removeprefix(f"{path}:"))
    return lines


def test_the_corpus_is_large_and_paired() -> None:
    assert len(INVALID) >= 40
    for path in INVALID:
        assert path.with_suffix(".expected").exists() or UPDATE, f"{path.name} has no .expected"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_manifest_reports_exactly_its_problems(path: Path) -> None:
    found = _problems(path)
    expected_file = path.with_suffix(".expected")
    if UPDATE:
        expected_file.write_text("".join(f"{line}\n" for line in found), encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8").splitlines()
    assert found == expected


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_every_problem_is_one_located_line(path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, ENVIRON)
    assert caught.value.problems
    for problem in caught.value.problems:
        assert problem.line >= 1 and problem.column >= 1
        assert "\n" not in str(problem) and problem.message
        assert "Traceback" not in problem.message and "pydantic" not in problem.message


@pytest.mark.parametrize("path", VALID + EXAMPLES, ids=[p.stem for p in VALID + EXAMPLES])
def test_valid_manifest_loads(path: Path) -> None:
    loaded = load_manifest(path, ENVIRON)
    assert loaded.path == path
    assert loaded.manifest.version == 1
    assert set(loaded.objects) == set(loaded.manifest.objects)


def test_example_stacks_are_distinct() -> None:
    stacks = [load_manifest(path, ENVIRON).manifest.stack for path in EXAMPLES]
    assert len(stacks) == len(set(stacks)) == 6
