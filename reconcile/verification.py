"""Verified restores, decided: which snapshot a series' probe restores and when, and which one
is never pruned for being the newest verified. Pure: snapshots, `every` and `now` in.

A verification is due when no complete, unmarked snapshot of the series was verified within
`every` (less the same cron slack as snapshots), and it restores the newest complete one. A
failed verification is stamped on its snapshot and does not count, so the next run tries again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconcile.retention import due_slack

NEWEST_VERIFIED = "newest verified"


@dataclass(frozen=True)
class Candidate:
    """What verification needs of one snapshot."""

    id: str
    created: datetime
    complete: bool
    marked: bool
    verified: datetime | None


@dataclass(frozen=True)
class Verified:
    """One verification a run made: the snapshot, whether its command exited 0, and why not."""

    series: str
    snapshot: str
    ok: bool
    reason: str
    tail: str = ""


def newest_verified(snaps: Iterable[Candidate]) -> Candidate | None:
    """The newest snapshot (by creation) that a probe verified, among those that count."""
    done = [s for s in snaps if s.verified is not None and s.complete and not s.marked]
    return max(done, key=lambda s: (s.created, s.id)) if done else None


def verify_target(snaps: Iterable[Candidate], every: timedelta, now: datetime) -> str | None:
    """The snapshot to verify now, or None when not due (or nothing to verify)."""
    usable = [s for s in snaps if s.complete and not s.marked]
    if not usable:
        return None
    stamps = [s.verified for s in usable if s.verified is not None]
    if stamps and now - max(stamps) < every - due_slack(every):
        return None
    return max(usable, key=lambda s: (s.created, s.id)).id


def output_tail(stdout: str, stderr: str, lines: int = 20) -> str:
    """The last lines of a command's output (stdout, then stderr), for a failure report."""
    text = "\n".join(part.rstrip("\n") for part in (stdout, stderr) if part.strip())
    return "\n".join(text.splitlines()[-lines:])
