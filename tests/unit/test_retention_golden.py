"""Retention golden cases: named histories, the ids each must keep, and every reason on file.

The kept ids are written here by hand (the reasoning is in each case's comment); the full
verdicts with reasons live in tests/golden/retention/<case>.json. Refresh those files with
RLSTATE_UPDATE_GOLDEN=1 (then review the diff); never edit them by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconcile.retention import (
    RetentionDecision,
    RetentionPolicy,
    SnapshotRecord,
    SnapshotStatusName,
    decide_retention,
)
from tests.helpers import GOLDEN_VARIABLE, updating_goldens

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "retention"
UPDATE = updating_goldens()


def at(when: str) -> datetime:
    """ "2026-11-24 09:00" (UTC) as an aware datetime."""
    return datetime.fromisoformat(when).replace(tzinfo=UTC)


def snap(when: str, status: SnapshotStatusName = "complete", suffix: str = "") -> SnapshotRecord:
    """A snapshot whose readable id is its UTC time (plus a suffix for same-time twins)."""
    return SnapshotRecord(id=when.replace(" ", "T") + suffix, created=at(when), status=status)


def days(first: str, last: str, *times: str) -> list[SnapshotRecord]:
    """One complete snapshot at each of `times` on every day from `first` to `last`."""
    out, day = [], at(first).date()
    while day <= at(last).date():
        out += [snap(f"{day.isoformat()} {t}") for t in times]
        day += timedelta(days=1)
    return out


@dataclass(frozen=True)
class Case:
    name: str
    snapshots: list[SnapshotRecord]
    policy: RetentionPolicy
    now: datetime
    kept: set[str]
    protected: dict[str, str] = field(default_factory=dict)


CASES = [
    # keep-latest cleanup: only the newest complete survives.
    Case(
        "keep-latest",
        days("2026-11-20", "2026-11-24", "09:00"),
        RetentionPolicy(last=1),
        at("2026-11-24 12:00"),
        {"2026-11-24T09:00"},
    ),
    # Three a day: the newest of each of the three most recent days.
    Case(
        "several-per-day",
        days("2026-11-21", "2026-11-24", "03:00", "11:00", "19:00"),
        RetentionPolicy(daily=3),
        at("2026-11-24 20:00"),
        {"2026-11-24T19:00", "2026-11-23T19:00", "2026-11-22T19:00"},
    ),
    # Days without snapshots do not use up the count: 10th, 9th, then back to the 5th.
    Case(
        "calendar-gaps",
        [snap(f"2026-11-{d:02d} 09:00") for d in (1, 2, 5, 9, 10)],
        RetentionPolicy(daily=3),
        at("2026-11-24 12:00"),
        {"2026-11-10T09:00", "2026-11-09T09:00", "2026-11-05T09:00"},
    ),
    # 2026-W53 runs from Mon 2026-12-28 to Sun 2027-01-03: Jan 2nd is the newest of that ISO
    # week; the yearly rule, by calendar year, keeps Dec 31st for 2026.
    Case(
        "iso-week-across-new-year",
        [
            snap("2026-12-24 09:00"),
            snap("2026-12-28 09:00"),
            snap("2026-12-31 09:00"),
            snap("2027-01-02 09:00"),
            snap("2027-01-04 09:00"),
        ],
        RetentionPolicy(weekly=3, yearly=2),
        at("2027-01-05 00:00"),
        {"2027-01-04T09:00", "2027-01-02T09:00", "2026-12-31T09:00", "2026-12-24T09:00"},
    ),
    # No snapshot in February: monthly 3 reaches back to January.
    Case(
        "month-without-snapshots",
        [
            snap("2026-01-10 09:00"),
            snap("2026-01-20 09:00"),
            snap("2026-03-05 09:00"),
            snap("2026-03-25 09:00"),
            snap("2026-04-02 09:00"),
        ],
        RetentionPolicy(monthly=3),
        at("2026-04-03 00:00"),
        {"2026-04-02T09:00", "2026-03-25T09:00", "2026-01-20T09:00"},
    ),
    # Several in one hour; the 13:00 hour is empty.
    Case(
        "hourly-bursts",
        [
            snap("2026-11-24 11:05"),
            snap("2026-11-24 11:50"),
            snap("2026-11-24 12:10"),
            snap("2026-11-24 12:40"),
            snap("2026-11-24 14:01"),
        ],
        RetentionPolicy(hourly=2),
        at("2026-11-24 15:00"),
        {"2026-11-24T14:01", "2026-11-24T12:40"},
    ),
    # Same time twice: ties go to the smaller id, so "a" is the newest of the day.
    Case(
        "same-time-twins",
        [snap("2026-11-24 09:00", suffix="a"), snap("2026-11-24 09:00", suffix="b")],
        RetentionPolicy(daily=1),
        at("2026-11-24 12:00"),
        {"2026-11-24T09:00a"},
    ),
    # The cron stopped on Oct 10th and runs again 40 days later: `within` counts back from
    # the newest complete snapshot, so the last week of the series stays (the edge, Oct 3rd
    # at 09:00, is exactly 7d back and is kept).
    Case(
        "stopped-for-40-days",
        days("2026-09-01", "2026-10-10", "09:00"),
        RetentionPolicy(within=timedelta(days=7)),
        at("2026-11-19 09:00"),
        {f"2026-10-{d:02d}T09:00" for d in range(3, 11)},
    ),
    # Error snapshots: older than the newest complete ones go, newer ones stay; in progress
    # stays; an old protected error snapshot stays.
    Case(
        "errors-around-the-newest-complete",
        [
            snap("2026-11-20 09:00"),
            snap("2026-11-21 09:00", "error"),
            snap("2026-11-22 09:00", "error"),
            snap("2026-11-22 10:00"),
            snap("2026-11-23 09:00", "error"),
            snap("2026-11-24 09:00", "in_progress"),
        ],
        RetentionPolicy(last=1),
        at("2026-11-24 09:30"),
        {"2026-11-22T10:00", "2026-11-23T09:00", "2026-11-24T09:00", "2026-11-21T09:00"},
        protected={"2026-11-21T09:00": "in use by devbox.worker-0"},
    ),
    # Protected ones stay whatever the rules say; the reason is the caller's.
    Case(
        "protected",
        days("2026-11-18", "2026-11-24", "09:00"),
        RetentionPolicy(last=2),
        at("2026-11-24 12:00"),
        {"2026-11-24T09:00", "2026-11-23T09:00", "2026-11-19T09:00", "2026-11-20T09:00"},
        protected={
            "2026-11-19T09:00": "in use by devbox.worker-0",
            "2026-11-20T09:00": "planned restore of devbox.api",
            "2026-11-23T09:00": "in use by devbox.worker-1",
        },
    ),
    # Only in-progress and error snapshots: nothing is complete yet, nothing goes.
    Case(
        "no-complete-yet",
        [snap("2026-11-23 09:00", "error"), snap("2026-11-24 09:00", "in_progress")],
        RetentionPolicy(last=1),
        at("2026-11-24 12:00"),
        {"2026-11-23T09:00", "2026-11-24T09:00"},
    ),
    # The newest complete one is dated after `now` (clock skew): it is still the newest, and
    # `within` counts back from now instead, so the skew cannot narrow the window.
    Case(
        "dated-in-the-future",
        [snap("2026-11-22 13:00"), snap("2026-11-23 13:00"), snap("2026-11-26 12:00")],
        RetentionPolicy(within=timedelta(days=1)),
        at("2026-11-24 12:00"),
        {"2026-11-26T12:00", "2026-11-23T13:00"},
    ),
    # One unreadable status: refused, everything stays.
    Case(
        "unknown-status-refuses",
        [snap("2026-11-22 09:00"), snap("2026-11-23 09:00", "unknown"), snap("2026-11-24 09:00")],
        RetentionPolicy(last=1),
        at("2026-11-24 12:00"),
        {"2026-11-22T09:00", "2026-11-23T09:00", "2026-11-24T09:00"},
    ),
    # Already deleted: not kept, but not something to delete either.
    Case(
        "already-deleted",
        [snap("2026-11-22 09:00", "deleted"), snap("2026-11-23 09:00"), snap("2026-11-24 09:00")],
        RetentionPolicy(last=5),
        at("2026-11-24 12:00"),
        {"2026-11-23T09:00", "2026-11-24T09:00"},
    ),
    # The manifest's example policy over twelve weeks of two snapshots a day (Nov 24th is a
    # Tuesday): last 3 and within 48h cover the last two days; daily 7 reaches the 18th;
    # weekly 4 adds the Sundays 22nd, 15th, 8th; monthly 6 adds Oct 31st and Sep 30th.
    Case(
        "manifest-example",
        days("2026-09-01", "2026-11-24", "03:00", "15:00"),
        RetentionPolicy(last=3, daily=7, weekly=4, monthly=6, within=timedelta(hours=48)),
        at("2026-11-24 16:00"),
        {
            "2026-11-24T15:00",
            "2026-11-24T03:00",
            "2026-11-23T15:00",
            "2026-11-23T03:00",
            *(f"2026-11-{d}T15:00" for d in (22, 21, 20, 19, 18, 15)),
            "2026-11-08T15:00",
            "2026-10-31T15:00",
            "2026-09-30T15:00",
        },
    ),
]


def as_golden(case: Case, decision: RetentionDecision) -> dict[str, object]:
    return {
        "case": case.name,
        "policy": case.policy.describe(),
        "now": case.now.isoformat(),
        "summary": decision.summary(),
        "refused": decision.refused,
        "verdicts": [
            {"id": v.snapshot.id, "status": v.snapshot.status, "keep": v.keep, "reasons": v.reasons}
            for v in decision.verdicts
        ],
    }


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_golden(case: Case) -> None:
    decision = decide_retention(case.snapshots, case.policy, case.now, case.protected)
    assert {v.snapshot.id for v in decision.kept} == case.kept
    got = json.loads(json.dumps(as_golden(case, decision)))
    path = GOLDEN_DIR / f"{case.name}.json"
    if UPDATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=2) + "\n", encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path.name} is missing; create it with {GOLDEN_VARIABLE}=1")
    assert got == json.loads(path.read_text(encoding="utf-8"))


def test_every_golden_file_belongs_to_a_case() -> None:
    names = {f"{c.name}.json" for c in CASES}
    assert len(names) == len(CASES), "case names must be unique"
    if GOLDEN_DIR.exists():
        assert sorted(p.name for p in GOLDEN_DIR.glob("*.json") if p.name not in names) == []
