"""Invariants of the retention engine, checked over random snapshot histories (hypothesis)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.retention import (
    RetentionDecision,
    RetentionPolicy,
    SnapshotRecord,
    SnapshotStatusName,
    Verdict,
    decide_retention,
    due_slack,
    is_snapshot_due,
)

BASE = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_MINUTES = 3 * 366 * 24 * 60
COMPLETE: SnapshotStatusName = "complete"
# Mostly complete, so the counting rules have something to count.
STATUSES: list[SnapshotStatusName] = [*[COMPLETE] * 5, "in_progress", "error", "deleted"]
# An independent oracle for the calendar rules: periods as tuples (ISO year/week for weeks).
PERIOD_LABELS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar())[:2],
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}

SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def histories(
    draw: st.DrawFn, statuses: list[SnapshotStatusName] = STATUSES
) -> list[SnapshotRecord]:
    """Snapshots over ~3 years, with bursts (several per hour/day) and exact duplicate times."""
    count = draw(st.integers(0, 40))
    times: list[datetime] = []
    for _ in range(count):
        how = draw(st.sampled_from(["new", "new", "near", "same"])) if times else "new"
        if how == "new":
            times.append(BASE + timedelta(minutes=draw(st.integers(0, SPAN_MINUTES))))
        else:
            earlier = draw(st.sampled_from(times))
            step = 0 if how == "same" else draw(st.integers(-36 * 60, 36 * 60))
            times.append(earlier + timedelta(minutes=step))
    # Any fixed UTC offset: the API speaks UTC, but the engine must count in UTC regardless.
    zones = st.integers(-12, 14).map(lambda h: timezone(timedelta(hours=h)))
    return [
        SnapshotRecord(
            id=f"snp_{i:03d}",
            created=t.astimezone(draw(zones)),
            status=draw(st.sampled_from(statuses)),
        )
        for i, t in enumerate(times)
    ]


small = st.integers(0, 5)
policies = st.builds(
    RetentionPolicy,
    last=small,
    hourly=small,
    daily=small,
    weekly=small,
    monthly=small,
    yearly=small,
    within=st.none() | st.integers(0, 60 * 24).map(lambda h: timedelta(hours=h)),
).filter(lambda p: not p.is_empty())


Case = tuple[list[SnapshotRecord], RetentionPolicy, datetime, dict[str, str]]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    snaps = draw(histories())
    policy = draw(policies)
    # `now` somewhere in the span, so some snapshots may be dated after it.
    now = BASE + timedelta(minutes=draw(st.integers(0, SPAN_MINUTES + 60 * 24 * 30)))
    chosen = draw(st.sets(st.sampled_from([s.id for s in snaps]))) if snaps else set()
    protected = {i: f"in use by devbox.worker-{n}" for n, i in enumerate(sorted(chosen))}
    return snaps, policy, now, protected


def newest_complete(snaps: list[SnapshotRecord]) -> SnapshotRecord | None:
    complete = [s for s in snaps if s.status == "complete"]
    return min(complete, key=lambda s: (-s.created.timestamp(), s.id)) if complete else None


def ids(verdicts: Iterable[Verdict]) -> list[str]:
    return [v.snapshot.id for v in verdicts]


@SETTINGS
@given(cases())
def test_every_snapshot_gets_exactly_one_verdict_with_reasons(case: Case) -> None:
    snaps, policy, now, protected = case
    decision = decide_retention(snaps, policy, now, protected)
    assert decision.refused is None
    assert sorted(ids(decision.verdicts)) == sorted(s.id for s in snaps)
    assert sorted(ids(decision.kept) + ids(decision.removed)) == sorted(s.id for s in snaps)
    for verdict in decision.verdicts:
        assert verdict.reasons, verdict
        assert all(verdict.reasons), verdict


@SETTINGS
@given(cases())
def test_verdicts_are_sorted_newest_first_with_ties_by_id(case: Case) -> None:
    snaps, policy, now, _ = case
    order = [
        (v.snapshot.created, v.snapshot.id) for v in decide_retention(snaps, policy, now).verdicts
    ]
    assert order == sorted(order, key=lambda k: (-k[0].timestamp(), k[1]))


@SETTINGS
@given(cases())
def test_what_is_never_removed(case: Case) -> None:
    snaps, policy, now, protected = case
    decision = decide_retention(snaps, policy, now, protected)
    verdicts = {v.snapshot.id: v for v in decision.verdicts}
    newest = newest_complete(snaps)
    if newest is not None:
        assert verdicts[newest.id].keep
        assert "newest complete" in verdicts[newest.id].reasons
    for snap in snaps:
        verdict = verdicts[snap.id]
        if snap.status == "deleted":
            assert verdict == Verdict(snap, False, ("already deleted",))
            continue
        if snap.status == "in_progress":
            assert verdict.keep and "in progress" in verdict.reasons
        if snap.id in protected:
            assert verdict.keep and protected[snap.id] in verdict.reasons
        if snap.status == "error" and (newest is None or snap.created >= newest.created):
            assert verdict.keep


@SETTINGS
@given(cases())
def test_only_complete_or_older_error_snapshots_are_deleted(case: Case) -> None:
    snaps, policy, now, protected = case
    decision = decide_retention(snaps, policy, now, protected)
    newest = newest_complete(snaps)
    for verdict in decision.to_delete:
        snap = verdict.snapshot
        assert snap.id not in protected
        if snap.status == "complete":
            assert verdict.reasons == ("not kept by any rule",)
        else:
            assert snap.status == "error"
            assert newest is not None and snap.created < newest.created
            assert verdict.reasons == ("error, older than the newest complete",)
    for snap in snaps:  # an old error snapshot goes unless protected
        if snap.status == "error" and newest and snap.created < newest.created:
            assert (snap.id in protected) is (snap.id not in ids(decision.to_delete))


@SETTINGS
@given(cases(), st.randoms(use_true_random=False))
def test_outcome_does_not_depend_on_input_order(case: Case, rnd: random.Random) -> None:
    snaps, policy, now, protected = case
    shuffled = list(snaps)
    rnd.shuffle(shuffled)
    assert decide_retention(shuffled, policy, now, protected) == decide_retention(
        snaps, policy, now, protected
    )


def apply(decision: RetentionDecision) -> list[SnapshotRecord]:
    """What the series holds after the caller carried the decision out."""
    return [v.snapshot for v in decision.kept]


@SETTINGS
@given(cases())
def test_deciding_again_after_applying_removes_nothing_more(case: Case) -> None:
    # Holds for restic's bucket rules: the N most recent periods and each one's newest
    # snapshot survive the prune, and the anchor of `within` (the newest complete) stays.
    snaps, policy, now, protected = case
    first = decide_retention(snaps, policy, now, protected)
    second = decide_retention(apply(first), policy, now, protected)
    assert second.removed == ()
    assert second.verdicts == first.kept  # same reasons, same ranks


@SETTINGS
@given(cases())
def test_calendar_rules_keep_the_newest_of_the_n_most_recent_periods(case: Case) -> None:
    snaps, policy, now, _ = case
    decision = decide_retention(snaps, policy, now)
    complete = [s for s in snaps if s.status == "complete"]
    for rule, label_of in PERIOD_LABELS.items():
        groups: dict[tuple[int, ...], list[SnapshotRecord]] = defaultdict(list)
        for snap in complete:
            groups[label_of(snap.created.astimezone(UTC))].append(snap)
        recent = sorted(groups, reverse=True)[: getattr(policy, rule)]
        expected = {min(groups[p], key=lambda s: (-s.created.timestamp(), s.id)).id for p in recent}
        got = {
            v.snapshot.id
            for v in decision.verdicts
            if any(r.startswith(f"{rule} ") for r in v.reasons)
        }
        assert got == expected, rule


@SETTINGS
@given(cases())
def test_last_and_within_rules(case: Case) -> None:
    snaps, policy, now, _ = case
    decision = decide_retention(snaps, policy, now)
    complete = sorted(
        (s for s in snaps if s.status == "complete"), key=lambda s: (-s.created.timestamp(), s.id)
    )
    by_last = {
        v.snapshot.id for v in decision.verdicts if any(r.startswith("last ") for r in v.reasons)
    }
    assert by_last == {s.id for s in complete[: policy.last]}
    by_within = {
        v.snapshot.id for v in decision.verdicts if any(r.startswith("within ") for r in v.reasons)
    }
    if policy.within and complete:
        start = min(complete[0].created, now) - policy.within
        assert by_within == {s.id for s in complete if s.created >= start}
    else:
        assert by_within == set()


@SETTINGS
@given(cases())
def test_rules_keep_no_more_than_their_counts(case: Case) -> None:
    snaps, policy, now, _ = case
    decision = decide_retention(snaps, policy, now)
    counted = [
        v
        for v in decision.kept
        if v.snapshot.status == "complete" and not any(r.startswith("within ") for r in v.reasons)
    ]
    budget = policy.last + policy.hourly + policy.daily + policy.weekly + policy.monthly
    assert len(counted) <= budget + policy.yearly + 1  # + the newest complete


@SETTINGS
@given(cases(), st.sampled_from(["last", "hourly", "daily", "weekly", "monthly", "yearly"]))
def test_a_larger_count_never_keeps_less(case: Case, rule: str) -> None:
    snaps, policy, now, protected = case
    before = set(ids(decide_retention(snaps, policy, now, protected).kept))
    bigger = replace(policy, **{rule: getattr(policy, rule) + 1})
    after = set(ids(decide_retention(snaps, bigger, now, protected).kept))
    assert before <= after


@SETTINGS
@given(cases(), st.data())
def test_an_unknown_status_refuses_and_removes_nothing(case: Case, data: st.DataObject) -> None:
    snaps, policy, now, protected = case
    extra = SnapshotRecord(
        "snp_unreadable",
        BASE + timedelta(minutes=data.draw(st.integers(0, SPAN_MINUTES))),
        "unknown",
    )
    decision = decide_retention([*snaps, extra], policy, now, protected)
    assert decision.refused is not None and "snp_unreadable" in decision.refused
    assert decision.removed == () and decision.to_delete == ()
    assert len(decision.verdicts) == len(snaps) + 1
    assert all(v.reasons for v in decision.verdicts)


@SETTINGS
@given(histories(), st.none() | st.integers(0, 60 * 24 * 60).map(lambda m: timedelta(minutes=m)))
def test_due_exactly_when_no_recent_complete_and_none_in_progress(
    snaps: list[SnapshotRecord], every: timedelta | None
) -> None:
    now = BASE + timedelta(days=400)
    newest = newest_complete(snaps)
    taking = any(
        s.status == "in_progress" and (newest is None or s.created > newest.created) for s in snaps
    )
    stale = newest is None or (
        every is not None and now - newest.created >= every - due_slack(every)
    )
    assert is_snapshot_due(snaps, every, now) is (stale and not taking)
