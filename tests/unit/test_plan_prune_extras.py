"""The plan's side of safe retention: a keep change's cost, grace marks, the newest verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from planner_support import NOW, ago, write_manifest

from reconcile.errors import ConfigError, PlanFileError
from reconcile.live.model import KEY_DELETE_AFTER, KEY_VERIFIED, LiveSnapshot, LiveState
from reconcile.plan.desired import snapshot_metadata
from reconcile.plan.model import Plan
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
    loaded = manifest(tmp_path, "{devbox: dbx_ext, keep: {last: 3}, max_prune: 100%}")
    live = LiveState("demo", snapshots=nightly(40, RetentionPolicy(last=40)))
    plan = build_plan(loaded, live, NOW)  # type: ignore[arg-type]
    assert plan.notes == ("keep change prunes 37 snapshots (18.5 GiB) of snapshot.nightly",)
    assert "  note: keep change prunes 37 snapshots (18.5 GiB)" in render_plan_text(plan)
    same = LiveState("demo", snapshots=nightly(40, RetentionPolicy(last=3)))
    assert build_plan(loaded, same, NOW).notes == ()  # type: ignore[arg-type]


def test_the_shrink_guard_holds_a_keep_typo_back_and_allow_shrink_lifts_it(
    tmp_path: Path,
) -> None:
    """keep 30 → 3 over 30 dailies: 27 of 30 at once is more than max_prune (50%), so the plan
    has no prune of the series, a refusal naming it, the count and the flag; rows say kept."""
    loaded = manifest(tmp_path, "{devbox: dbx_ext, keep: {last: 3}}")
    live = LiveState("demo", snapshots=nightly(30, RetentionPolicy(last=30)))
    plan = build_plan(loaded, live, NOW)  # type: ignore[arg-type]
    assert plan.actions == ()
    (refusal,) = plan.shrink_refused
    assert (refusal.series, refusal.pruned, refusal.complete) == ("nightly", 27, 30)
    assert plan.notes == ("keep change would prune 27 snapshots (13.5 GiB) of snapshot.nightly",)
    assert all(row.keep for row in plan.retention)
    text = render_plan_text(plan)
    assert "! refused: snapshot.nightly: would prune 27 of 30 complete snapshots" in text
    assert "--allow-shrink" in text and "No changes. The live" not in text
    targeted = build_plan(loaded, live, NOW, ("snapshot.nightly",))  # type: ignore[arg-type]
    assert len(targeted.shrink_refused) == 1
    series = "{devbox: dbx_ext, keep: {last: 3}}"
    text = f"version: 1\nstack: demo\ndevboxes:\n  other: {{}}\nsnapshots:\n  nightly: {series}\n"
    with_other = write_manifest(tmp_path / "other", text, {}, {})
    other = build_plan(with_other, live, NOW, ("devbox.other",))
    assert other.shrink_refused == () and [a.address for a in other.actions] == ["devbox.other"]
    with pytest.raises(ConfigError, match=r"--target 'devbox\.other' names nothing"):
        build_plan(loaded, live, NOW, ("devbox.other",))  # type: ignore[arg-type]
    allowed = build_plan(loaded, live, NOW, allow_shrink=True)  # type: ignore[arg-type]
    assert [a.kind for a in allowed.actions] == ["prune"] * 27
    assert allowed.shrink_refused == () and allowed.allow_shrink
    assert "allowed by --allow-shrink" in allowed.notes[0]


def test_a_saved_plan_carries_the_refusal_and_the_allowance(tmp_path: Path) -> None:
    loaded = manifest(tmp_path, "{devbox: dbx_ext, keep: {last: 3}}")
    live = LiveState("demo", snapshots=nightly(30, RetentionPolicy(last=30)))
    held = build_plan(loaded, live, NOW)  # type: ignore[arg-type]
    data = json.loads(held.to_json())
    (saved,) = data["shrink_refused"]
    assert (saved["series"], saved["pruned"], saved["flag"]) == ("nightly", 27, "--allow-shrink")
    assert "allow_shrink" not in data
    assert Plan.from_json(held.to_json()) == held
    allowed = build_plan(loaded, live, NOW, allow_shrink=True)  # type: ignore[arg-type]
    assert json.loads(allowed.to_json())["allow_shrink"] is True
    assert "shrink_refused" not in json.loads(allowed.to_json())
    assert Plan.from_json(allowed.to_json()) == allowed
    data["shrink_refused"] = [{"series": "nightly"}]
    with pytest.raises(PlanFileError, match="damaged or of another format"):
        Plan.from_dict(data)


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
    # the same spelling as a snapshot marked by an earlier run ("2026-11-25 12:00Z")
    assert "scheduled for deletion at 2026-11-25 12:00Z" in row.reasons
    assert "1 to schedule for deletion" in render_plan_text(plan)


def test_the_newest_verified_snapshot_is_never_pruned(tmp_path: Path) -> None:
    loaded = manifest(tmp_path, "{devbox: dbx_ext, keep: {last: 1}}")
    stamps = {"snp_02": {KEY_VERIFIED: "2026-11-23T00:00:00Z"}}
    live = LiveState("demo", snapshots=nightly(4, RetentionPolicy(last=1), **stamps))
    plan = build_plan(loaded, live, NOW)  # type: ignore[arg-type]
    assert sorted(a.resource_id or "" for a in plan.actions) == ["snp_01", "snp_03"]
    row = next(r for r in plan.retention if r.snapshot_id == "snp_02")
    assert row.keep and "newest verified" in row.reasons
