"""Planner goldens: each named case's plan as people read it (.txt) and as machines do (.json).

Refresh the files with RLSTATE_UPDATE_GOLDEN=1 and read the diff: a golden that shows a wrong
plan is a planner bug to fix, never a file to accept. The temporary folder the manifests are
written to is the only volatile part of a plan; it is replaced by a fixed mark.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from planner_cases import CASES, Case
from planner_support import build, normalize, plan_json, plan_text, write_manifest

from tests.helpers import GOLDEN_VARIABLE, updating_goldens

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "plan"
UPDATE = updating_goldens()


def plan_case(case: Case, folder: Path) -> tuple[str, str]:
    """(text, json) of the case's plan, with the folder replaced by a fixed mark."""
    loaded = write_manifest(folder / "now", case.manifest, case.files, case.env)
    before = loaded
    if case.before is not None or case.before_files is not None or case.before_env is not None:
        before = write_manifest(
            folder / "before",
            case.before if case.before is not None else case.manifest,
            case.before_files if case.before_files is not None else case.files,
            case.before_env if case.before_env is not None else case.env,
        )
    plan, _ = build(loaded, before, case.live, case.targets, allow_shrink=case.allow_shrink)
    return normalize(plan_text(plan), folder), normalize(plan_json(plan), folder)


def check_golden(path: Path, got: str) -> None:
    if UPDATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path.name} is missing; create it with {GOLDEN_VARIABLE}=1")
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_golden(case: Case, tmp_path: Path) -> None:
    text, data = plan_case(case, tmp_path)
    check_golden(GOLDEN_DIR / f"{case.name}.txt", text)
    check_golden(GOLDEN_DIR / f"{case.name}.json", data)


def test_every_golden_file_belongs_to_a_case() -> None:
    names = {c.name for c in CASES}
    assert len(names) == len(CASES), "case names must be unique"
    if GOLDEN_DIR.exists():
        stray = sorted(p.name for p in GOLDEN_DIR.iterdir() if p.stem not in names)
        assert stray == []
