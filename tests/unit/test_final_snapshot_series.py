"""A final snapshot (snapshot_before_destroy) joins its devbox's series only when that devbox had
finished its setup: one taken of a devbox whose setup never succeeded must not become the series'
newest complete snapshot, from which devboxes are restored (found by a killed embedded apply:
its workers were restored from a snapshot without the setup's files and failed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from planner_support import NOW, World, ago, write_manifest
from planner_worlds import FINAL

from reconcile.plan.params import DevboxDelete, DevboxReplace
from reconcile.plan.planner import build_plan

ENV = {"CI_TOKEN": "t"}
EDITED = FINAL.replace("pip install -r requirements.txt", "pip install -r requirements.lock")


@pytest.mark.parametrize(
    ("ready", "series", "name"),
    [(True, "golden", "golden-final"), (False, None, "builder-final")],
    ids=["setup-done-joins-the-series", "setup-unfinished-stays-apart"],
)
def test_the_final_snapshot_of_a_replaced_builder(
    tmp_path: Path, ready: bool, series: str | None, name: str
) -> None:
    before = write_manifest(tmp_path / "before", FINAL, {"tool.txt": "v1"}, ENV)
    world = World(before)
    world.object("toolchain")
    world.devbox("builder", ready=ready)
    world.devbox("cache")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))
    after = write_manifest(tmp_path / "after", EDITED, {"tool.txt": "v1"}, ENV)

    plan = build_plan(after, world.state(), NOW)

    replace = plan.action("replace devbox.builder")
    final = replace.params_as(DevboxReplace).final_snapshot
    assert final is not None
    assert (final.series, final.name) == (series, name)
    assert ("rlstate.series" in final.metadata) is (series is not None)


def test_a_duplicate_left_unfinished_gets_a_final_snapshot_of_no_series(tmp_path: Path) -> None:
    before = write_manifest(tmp_path / "before", FINAL, {"tool.txt": "v1"}, ENV)
    world = World(before)
    world.object("toolchain")
    world.devbox("builder", ready=True)
    world.devbox("builder", id="dbx_builder_dup", ready=False, created=ago(hours=1))
    world.devbox("cache")
    world.snapshot("golden", "snp_golden_1", ago(hours=2))

    plan = build_plan(before, world.state(), NOW)

    deletes = [a for a in plan.actions if a.kind == "delete" and a.resource_id == "dbx_builder_dup"]
    finals = [a.params_as(DevboxDelete).final_snapshot for a in deletes]
    assert [f.series if f else "no final snapshot" for f in finals] == [None]
