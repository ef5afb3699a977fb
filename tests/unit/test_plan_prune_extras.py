"""The plan's side of safe retention: a keep change's cost, grace marks, the newest verified."""

from __future__ import annotations

from pathlib import Path

from planner_support import NOW, ago, write_manifest

from reconcile.live.model import KEY_DELETE_AFTER, KEY_VERIFIED, LiveSnapshot, LiveState
from reconcile.plan.desired import snapshot_metadata
from reconcile.plan.planner import build_plan
from reconcile.render import render_plan_text
from reconcile.retention import RetentionPolicy
from reconcile.stamps import keep_stamp

GIB = 1024**3


def manifest(tmp_path: Path, series: str) -> object:
    text = f"version: 1\nstack: demo\nsnapshots:\n  nightly: {series}\n"
    return write_manifest(tmp_path, text, {}, {})


def nightly(count: int, keep: RetentionPolicy, **extra: dict[str, str]) -> tuple[LiveSnapshot, ...]:
    meta = {**snapshot_metadata("demo", "nightly", protect=False), **keep_stamp(keep)}
    return tuple(
        LiveSnapshot(
            f"snp_{n:02d}",
            ago(days=n + 1),
            "dbx_ext",
            {**meta, **extra.get(f"snp_{n:02d}", {})},
            size_bytes=GIB // 2,
            status="complete",
        )
        for n in range(count)
    )


def test_a_tighter_keep_says_what_it_costs(tmp_path: Path) -> None:
    loaded = manifest(tmp_path, "{devbox: dbx_ext, keep: {last: 3}}")
    live = LiveState("demo", snapshots=nightly(40, RetentionPolicy(last=40)))
    plan = build_plan(loaded, live, NOW)  # type: ignore[arg-type]
    assert plan.notes == ("keep change prunes 37 snapshots (18.5 GiB) of snapshot.nightly",)
    assert "  note: keep change prunes 37 snapshots (18.5 GiB)" in render_plan_text(plan)
    same = LiveState("demo", snapshots=nightly(40, RetentionPolicy(last=3)))
    assert build_plan(loaded, same, NOW).notes == ()  # type: ignore[arg-type]


def test_grace_plans_marks_and_rows_say_when(tmp_path: Path) -> None:
    loaded = manifest(tmp_path, "{devbox: dbx_ext, keep: {last: 2}, prune: {grace: 24h}}")
    live = LiveState("demo", snapshots=nightly(3, RetentionPolicy(last=2)))
    plan = build_plan(loaded, live, NOW)  # type: ignore[arg-type]
    (mark,) = plan.actions
    assert (mark.kind, mark.resource_id) == ("mark", "snp_02")
    assert mark.params.metadata[KEY_DELETE_AFTER] == "2026-11-25T12:00:00Z"  # type: ignore[attr-defined]
    assert mark.params.metadata["rlstate.series"] == "nightly"  # type: ignore[attr-defined]
    row = next(r for r in plan.retention if r.snapshot_id == "snp_02")
    assert row.keep and row.scheduled == "2026-11-25T12:00:00Z"
    assert "1 to schedule for deletion" in render_plan_text(plan)


def test_the_newest_verified_snapshot_is_never_pruned(tmp_path: Path) -> None:
    loaded = manifest(tmp_path, "{devbox: dbx_ext, keep: {last: 1}}")
    stamps = {"snp_02": {KEY_VERIFIED: "2026-11-23T00:00:00Z"}}
    live = LiveState("demo", snapshots=nightly(4, RetentionPolicy(last=1), **stamps))
    plan = build_plan(loaded, live, NOW)  # type: ignore[arg-type]
    assert sorted(a.resource_id or "" for a in plan.actions) == ["snp_01", "snp_03"]
    row = next(r for r in plan.retention if r.snapshot_id == "snp_02")
    assert row.keep and "newest verified" in row.reasons
