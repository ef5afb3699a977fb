"""`retain --simulate`: the projection replays what nightly runs would do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconcile.retention import RetentionPolicy, SnapshotRecord, decide_retention
from reconcile.simulation import new_snapshot_id, simulate

NOW = datetime(2031, 1, 27, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_nightly_series_settles_at_what_its_rules_keep() -> None:
    snaps = [SnapshotRecord("old", NOW - DAY, "complete", size_bytes=1000)]
    sim = simulate("n", snaps, RetentionPolicy(last=3, daily=7), DAY, NOW, 30 * DAY)
    assert len(sim.days) == 30
    assert all(day.taken == new_snapshot_id(day.at) for day in sim.days)
    assert [d.kept for d in sim.days[:8]] == [2, 3, 4, 5, 6, 7, 7, 7]
    assert sim.days[-1].bytes_kept == 7000 and len(sim.left) == 7
    assert "old" in sim.days[6].pruned


def test_each_day_agrees_with_the_engine() -> None:
    snaps = [SnapshotRecord(f"s{n}", NOW - n * 7 * DAY, "complete", size_bytes=5) for n in range(9)]
    policy = RetentionPolicy(weekly=4, monthly=2)
    sim = simulate("w", snaps, policy, 7 * DAY, NOW, 7 * DAY)
    (day,) = sim.days
    assert day.taken is None  # the newest is exactly as old as now: not due for a week
    want = decide_retention(snaps, policy, NOW)
    assert set(day.pruned) == {v.snapshot.id for v in want.to_delete}


def test_grace_holds_bytes_until_the_marks_expire() -> None:
    snaps = [
        SnapshotRecord(f"s{n}", NOW - (n + 1) * DAY, "complete", size_bytes=1) for n in range(4)
    ]
    sim = simulate("g", snaps, RetentionPolicy(last=2), DAY, NOW, 3 * DAY, grace=2 * DAY)
    first, second, third = sim.days
    assert set(first.marked) == {"s1", "s2", "s3"} and not first.pruned
    assert first.kept == 2 and first.bytes_kept == 5  # marked ones still hold storage
    assert second.pruned == () and second.marked == ("s0",)
    assert set(third.pruned) == {"s1", "s2", "s3"}


def test_unknown_sizes_give_unknown_bytes() -> None:
    snaps = [SnapshotRecord("a", NOW - DAY, "complete")]
    sim = simulate("u", snaps, RetentionPolicy(last=2), DAY, NOW, DAY)
    assert sim.days[0].bytes_kept is None
