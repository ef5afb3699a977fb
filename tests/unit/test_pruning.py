"""Carrying out a retention decision: the shrink guard, grace marks, and marked snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconcile.pruning import guard_shrink, prune_cost, prune_steps, shrink_refusal
from reconcile.retention import RetentionPolicy, SnapshotRecord, decide_retention

NOW = datetime(2031, 3, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def nightly(count: int, **extra: object) -> list[SnapshotRecord]:
    """`count` complete snapshots, one a night, the newest at NOW - 1 day."""
    return [
        SnapshotRecord(f"s{n:02d}", NOW - (n + 1) * DAY, "complete", size_bytes=100, **extra)  # type: ignore[arg-type]
        for n in range(count)
    ]


def test_the_guard_refuses_a_keep_typo_and_names_the_count_and_flag() -> None:
    decision = decide_retention(nightly(20), RetentionPolicy(last=1), NOW)  # meant last: 10
    held, refusal = guard_shrink("nightly", decision, 0.5, allow=False)
    assert refusal is not None
    assert (refusal.pruned, refusal.complete) == (19, 20)
    text = refusal.message()
    assert "snapshot.nightly" in text and "19 of 20" in text and "--allow-shrink" in text
    assert held.refused is not None and not held.to_delete
    assert len(held.kept) == 20


def test_the_guard_lets_a_normal_night_and_an_allowed_shrink_through() -> None:
    normal = decide_retention(nightly(8), RetentionPolicy(last=7), NOW)
    assert shrink_refusal("nightly", normal, 0.5) is None
    typo = decide_retention(nightly(20), RetentionPolicy(last=1), NOW)
    allowed, refusal = guard_shrink("nightly", typo, 0.5, allow=True)
    assert refusal is None and len(allowed.to_delete) == 19
    assert shrink_refusal("nightly", typo, 1.0) is None  # max_prune: 100%


def test_the_guard_fires_on_a_clock_jump_of_a_year() -> None:
    snaps = nightly(14)
    later = NOW + timedelta(days=365)
    jumped = [*snaps, SnapshotRecord("new", later, "complete")]
    decision = decide_retention(jumped, RetentionPolicy(within=timedelta(days=14)), later)
    refusal = shrink_refusal("nightly", decision, 0.5)
    assert refusal is not None and refusal.pruned == 14


def test_exactly_the_limit_passes() -> None:
    decision = decide_retention(nightly(2), RetentionPolicy(last=1), NOW)
    assert shrink_refusal("nightly", decision, 0.5) is None  # 1 of 2 = 50%: not more


def test_grace_marks_instead_of_deleting_and_error_snapshots_are_deleted() -> None:
    snaps = [*nightly(5), SnapshotRecord("err", NOW - 10 * DAY, "error")]
    decision = decide_retention(snaps, RetentionPolicy(last=2), NOW)
    steps = {s.snapshot_id: s for s in prune_steps(decision, timedelta(hours=24), NOW)}
    assert {i for i, s in steps.items() if s.kind == "mark"} == {"s02", "s03", "s04"}
    assert steps["s02"].delete_after == NOW + timedelta(hours=24)
    assert steps["err"].kind == "delete"
    assert all(s.kind == "delete" for s in prune_steps(decision, None, NOW))


def test_marked_snapshots_wait_for_their_time_then_go_and_do_not_count() -> None:
    when = NOW + timedelta(hours=12)
    snaps = [*nightly(3)[:2], SnapshotRecord("m", NOW - 3 * DAY, "complete", delete_after=when)]
    policy = RetentionPolicy(last=3)
    before = decide_retention(snaps, policy, NOW)
    (waiting,) = before.scheduled
    assert waiting.snapshot.id == "m" and waiting.scheduled == when
    assert "scheduled for deletion at" in waiting.reasons[0]
    assert {v.snapshot.id for v in before.kept} == {"s00", "s01"}  # "m" does not count
    assert not before.to_delete and "1 scheduled for deletion" in before.summary()
    after = decide_retention(snaps, policy, when)
    assert [v.snapshot.id for v in after.to_delete] == ["m"]
    steps = prune_steps(after, timedelta(hours=24), when)
    assert [(s.snapshot_id, s.kind) for s in steps] == [("m", "delete")]  # not marked again
    assert shrink_refusal("nightly", after, 0.0) is None  # counted when it was marked


def test_a_marked_snapshot_in_use_or_the_last_complete_one_is_held() -> None:
    past = NOW - timedelta(hours=1)
    snaps = [
        SnapshotRecord("a", NOW - DAY, "complete", delete_after=past),
        SnapshotRecord("b", NOW - 2 * DAY, "complete", delete_after=past),
    ]
    decision = decide_retention(snaps, RetentionPolicy(last=1), NOW, {"b": "in use by x"})
    assert not decision.to_delete
    reasons = {v.snapshot.id: v.reasons for v in decision.verdicts}
    assert reasons["a"][-1] == "held: newest complete of all"
    assert reasons["b"][-1] == "held: in use by x"


def test_the_cost_line_counts_and_sizes_what_goes() -> None:
    snaps = [
        SnapshotRecord(f"s{n:02d}", NOW - (n + 1) * DAY, "complete", size_bytes=1024**3 // 2)
        for n in range(40)
    ]
    decision = decide_retention(snaps, RetentionPolicy(last=3), NOW)
    line = prune_cost("nightly", decision, keep_changed=True)
    assert line == "keep change prunes 37 snapshots (18.5 GiB) of snapshot.nightly"
    assert (
        prune_cost("nightly", decide_retention(snaps, RetentionPolicy(last=40), NOW), True) is None
    )
    unsized = [SnapshotRecord("a", NOW, "complete"), SnapshotRecord("b", NOW - DAY, "complete")]
    line = prune_cost("x", decide_retention(unsized, RetentionPolicy(last=1), NOW), False)
    assert line == "prunes 1 snapshot (size unknown) of snapshot.x"
