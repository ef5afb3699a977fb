"""Retention engine: policy phrasing, input checks, summaries and when a snapshot is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from reconcile.retention import (
    RetentionDecision,
    RetentionPolicy,
    SnapshotRecord,
    SnapshotStatusName,
    Verdict,
    decide_retention,
    format_duration,
    is_snapshot_due,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def snap(when: str, status: SnapshotStatusName = "complete", suffix: str = "") -> SnapshotRecord:
    """A snapshot whose id is its UTC time, e.g. snap("11-24 09:00") -> id "11-24T09:00"."""
    created = datetime.fromisoformat(f"2026-{when}").replace(tzinfo=UTC)
    return SnapshotRecord(id=when.replace(" ", "T") + suffix, created=created, status=status)


@pytest.mark.parametrize(
    ("policy", "empty", "text"),
    [
        pytest.param(RetentionPolicy(), True, "no rule", id="nothing"),
        pytest.param(RetentionPolicy(within=timedelta(0)), True, "no rule", id="zero-within"),
        pytest.param(RetentionPolicy(last=1), False, "keep latest only", id="keep-latest"),
        pytest.param(RetentionPolicy(last=2), False, "keep last 2", id="last-2"),
        pytest.param(
            RetentionPolicy(last=3, daily=7, weekly=4),
            False,
            "keep last 3, daily 7, weekly 4",
            id="manifest-example",
        ),
        pytest.param(
            RetentionPolicy(last=1, within=timedelta(hours=48)),
            False,
            "keep last 1, within 2d",
            id="last-1-and-within-is-not-keep-latest",
        ),
        pytest.param(
            RetentionPolicy(hourly=24, monthly=6, yearly=2, within=timedelta(hours=36)),
            False,
            "keep hourly 24, monthly 6, yearly 2, within 1d12h",
            id="all-kinds",
        ),
    ],
)
def test_policy_describes_itself(policy: RetentionPolicy, empty: bool, text: str) -> None:
    assert policy.is_empty() is empty
    assert policy.describe() == text


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"last": -1}, id="negative-count"),
        pytest.param({"daily": True}, id="bool-count"),
        pytest.param({"weekly": 1.5}, id="fractional-count"),
        pytest.param({"within": timedelta(hours=-1)}, id="negative-within"),
    ],
)
def test_policy_rejects_bad_numbers(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="keep\\."):
        RetentionPolicy(**fields)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(timedelta(0), "0s", id="zero"),
        pytest.param(timedelta(seconds=90), "1m30s", id="90s"),
        pytest.param(timedelta(hours=48), "2d", id="48h"),
        pytest.param(timedelta(hours=36), "1d12h", id="36h"),
        pytest.param(timedelta(weeks=2), "14d", id="2w"),
    ],
)
def test_durations_read_in_manifest_units(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SnapshotRecord("snp_a", datetime(2026, 11, 24), "complete")
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_retention([], RetentionPolicy(last=1), datetime(2026, 11, 24))
    with pytest.raises(ValueError, match="timezone-aware"):
        is_snapshot_due([], None, datetime(2026, 11, 24))


def test_unknown_status_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="status name"):
        SnapshotRecord("snp_a", NOW, "failed")  # type: ignore[arg-type]


def test_a_snapshot_listed_twice_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="more than once"):
        decide_retention([snap("11-24 09:00"), snap("11-24 09:00")], RetentionPolicy(last=1), NOW)


def test_other_time_zones_are_counted_in_utc() -> None:
    # 01:30 on the 25th at +02:00 is 23:30 on the 24th in UTC: the same day as the 10:00 one.
    east = timezone(timedelta(hours=2))
    late = SnapshotRecord("late", datetime(2026, 11, 25, 1, 30, tzinfo=east), "complete")
    decision = decide_retention([snap("11-24 10:00"), late], RetentionPolicy(daily=2), NOW)
    assert [v.snapshot.id for v in decision.kept] == ["late"]
    assert decision.kept[0].reasons == ("daily 1/2 (2026-11-24)", "newest complete")


def test_nothing_to_decide() -> None:
    decision = decide_retention([], RetentionPolicy(last=3), NOW)
    assert decision == RetentionDecision(verdicts=(), refused=None, policy=RetentionPolicy(last=3))
    assert decision.summary() == "keep 0, remove 0"


def test_an_empty_policy_refuses_instead_of_removing_everything() -> None:
    snaps = [snap("11-20 09:00"), snap("11-21 09:00")]
    decision = decide_retention(snaps, RetentionPolicy(), NOW)
    assert decision.refused == "the policy has no rule"
    assert decision.removed == ()
    assert decision.summary() == "keep 2, remove 0; prune refused: the policy has no rule"


def test_protection_reason_is_required_to_be_visible() -> None:
    snaps = [snap("11-20 09:00"), snap("11-21 09:00")]
    decision = decide_retention(snaps, RetentionPolicy(last=1), NOW, {"11-20T09:00": ""})
    assert decision.verdicts[1] == Verdict(snaps[0], keep=True, reasons=("protected",))


@pytest.mark.parametrize(
    ("snaps", "policy", "text"),
    [
        pytest.param(
            [snap(f"11-2{d} 09:00") for d in range(5)],
            RetentionPolicy(last=1),
            "keep latest only: keep 1, remove 4",
            id="keep-latest",
        ),
        pytest.param(
            [snap(f"11-2{d} 09:00") for d in range(5)],
            RetentionPolicy(last=2),
            "keep 2, remove 3",
            id="last-2",
        ),
        pytest.param(
            [snap("11-20 09:00", "deleted"), snap("11-21 09:00"), snap("11-22 09:00")],
            RetentionPolicy(last=1),
            "keep latest only: keep 1, remove 1, 1 already deleted",
            id="already-deleted-is-not-a-removal",
        ),
        pytest.param(
            [snap("11-21 09:00"), snap("11-22 09:00", "unknown")],
            RetentionPolicy(last=1),
            "keep 2, remove 0; prune refused: status of 11-22T09:00 could not be read",
            id="unknown-status",
        ),
    ],
)
def test_summary(snaps: list[SnapshotRecord], policy: RetentionPolicy, text: str) -> None:
    assert decide_retention(snaps, policy, NOW).summary() == text


def test_deleted_snapshots_are_removed_but_never_to_be_deleted() -> None:
    gone = snap("11-20 09:00", "deleted")
    decision = decide_retention([gone, snap("11-21 09:00")], RetentionPolicy(last=5), NOW)
    assert decision.removed == (Verdict(gone, keep=False, reasons=("already deleted",)),)
    assert decision.to_delete == ()


DUE_CASES = [
    # (id, snapshots, every, due)
    ("no-snapshots", [], None, True),
    ("no-snapshots-with-every", [], timedelta(hours=24), True),
    ("only-error", [snap("11-24 09:00", "error")], None, True),
    ("only-deleted", [snap("11-24 09:00", "deleted")], None, True),
    ("only-unknown-is-ignored", [snap("11-24 09:00", "unknown")], None, True),
    ("one-complete-no-every", [snap("01-01 00:00")], None, False),
    ("younger-than-every-less-slack", [snap("11-23 14:00")], timedelta(hours=24), False),
    ("cron-a-minute-early-is-due", [snap("11-23 12:01")], timedelta(hours=24), True),
    ("slack-is-a-tenth-of-short-every", [snap("11-24 11:07")], timedelta(hours=1), False),
    ("slack-is-a-tenth-of-short-every-due", [snap("11-24 11:06")], timedelta(hours=1), True),
    ("exactly-every-old", [snap("11-23 12:00")], timedelta(hours=24), True),
    ("older-than-every", [snap("11-23 11:59")], timedelta(hours=24), True),
    (
        "newest-complete-decides",
        [snap("11-01 12:00"), snap("11-24 11:00")],
        timedelta(hours=2),
        False,
    ),
    ("first-in-progress", [snap("11-24 11:00", "in_progress")], None, False),
    (
        "in-progress-newer-than-stale-complete",
        [snap("11-01 12:00"), snap("11-24 11:00", "in_progress")],
        timedelta(hours=24),
        False,
    ),
    (
        "stuck-in-progress-older-than-stale-complete",
        [snap("10-01 12:00", "in_progress"), snap("11-01 12:00")],
        timedelta(hours=24),
        True,
    ),
    (
        "error-newer-than-stale-complete",
        [snap("11-01 12:00"), snap("11-24 11:00", "error")],
        timedelta(hours=24),
        True,
    ),
    ("complete-dated-in-the-future", [snap("11-25 12:00")], timedelta(hours=1), False),
]


@pytest.mark.parametrize(
    ("snaps", "every", "due"), [pytest.param(*c[1:], id=c[0]) for c in DUE_CASES]
)
def test_is_snapshot_due(snaps: list[SnapshotRecord], every: timedelta | None, due: bool) -> None:
    assert is_snapshot_due(snaps, every, NOW) is due
