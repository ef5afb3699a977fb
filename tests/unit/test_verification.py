"""When a series' restore is verified, which snapshot, and which one pruning must spare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconcile.verification import Candidate, newest_verified, output_tail, verify_target

NOW = datetime(2031, 3, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WEEK = 7 * DAY


def cand(
    n: int, verified: int | None = None, complete: bool = True, marked: bool = False
) -> Candidate:
    when = None if verified is None else NOW - verified * DAY
    return Candidate(f"s{n}", NOW - n * DAY, complete, marked, when)


def test_due_when_nothing_was_verified_within_every() -> None:
    assert verify_target([cand(1), cand(2)], WEEK, NOW) == "s1"
    assert verify_target([cand(1), cand(3, verified=3)], WEEK, NOW) is None
    assert verify_target([cand(1), cand(8, verified=7)], WEEK, NOW) == "s1"
    assert verify_target([cand(0, complete=False), cand(2)], WEEK, NOW) == "s2"
    assert verify_target([cand(1, marked=True)], WEEK, NOW) is None
    # a verification of a snapshot since marked does not count
    assert verify_target([cand(1), cand(2, verified=1, marked=True)], WEEK, NOW) == "s1"


def test_the_newest_verified_is_by_creation() -> None:
    snaps = [cand(1), cand(5, verified=1), cand(9, verified=0)]
    found = newest_verified(snaps)
    assert found is not None and found.id == "s5"
    assert newest_verified([cand(1)]) is None


def test_the_output_tail_keeps_the_last_lines() -> None:
    out = "\n".join(f"line {n}" for n in range(30)) + "\n"
    assert output_tail(out, "boom\n", lines=3) == "line 28\nline 29\nboom"
    assert output_tail("", "") == ""
