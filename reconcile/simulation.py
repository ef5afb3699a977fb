"""`retain --simulate`: what a series' policy keeps, prunes and holds over the coming days. Pure.

From the series' live snapshots, its `every`, `keep`, grace and `now`, it replays the nightly
job: one run every `every` (every day when the series has none), starting now. Each run takes
a snapshot when one is due (sized like the newest complete one, the best guess there is) and
carries out the retention decision as `retain` would (marks under a grace period, deletes past
it). It reads no clock and no API.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from reconcile.pruning import prune_steps
from reconcile.retention import (
    RetentionPolicy,
    SnapshotRecord,
    decide_retention,
    is_snapshot_due,
)

DAY = timedelta(days=1)


@dataclass(frozen=True)
class SimDay:
    """One simulated run: what it took and pruned, and what the series holds after it."""

    at: datetime
    taken: str | None
    pruned: tuple[str, ...]
    marked: tuple[str, ...]
    kept: int
    bytes_kept: int | None  # None when a kept snapshot's size is unknown


@dataclass(frozen=True)
class Simulation:
    """A series' projected runs, and the snapshots left after the last one."""

    series: str
    days: tuple[SimDay, ...]
    left: tuple[SnapshotRecord, ...]


def new_snapshot_id(at: datetime) -> str:
    """The name a snapshot the simulation takes goes by: "(new 2031-02-03T02:00Z)"."""
    return f"(new {at.astimezone(UTC).strftime('%Y-%m-%dT%H:%MZ')})"


def _bytes(records: list[SnapshotRecord]) -> int | None:
    live = [r for r in records if r.status != "deleted"]
    if any(r.size_bytes is None for r in live):
        return None
    return sum(r.size_bytes or 0 for r in live)


def _newest_size(records: list[SnapshotRecord]) -> int | None:
    done = [r for r in records if r.status == "complete"]
    return max(done, key=lambda r: (r.created, r.id)).size_bytes if done else None


def _run(
    records: list[SnapshotRecord],
    policy: RetentionPolicy,
    every: timedelta | None,
    grace: timedelta | None,
    at: datetime,
    protected: dict[str, str],
) -> tuple[list[SnapshotRecord], SimDay]:
    taken = None
    if is_snapshot_due(records, every, at):
        taken = new_snapshot_id(at)
        size = _newest_size(records)
        records = [*records, SnapshotRecord(taken, at, "complete", size_bytes=size)]
    decision = decide_retention(records, policy, at, protected)
    steps = {s.snapshot_id: s for s in prune_steps(decision, grace, at)}
    out, pruned, marked = [], [], []
    for rec in records:
        step = steps.get(rec.id)
        if step is None:
            out.append(rec)
        elif step.kind == "mark":
            out.append(replace(rec, delete_after=step.delete_after))
            marked.append(rec.id)
        else:
            pruned.append(rec.id)
    kept = sum(1 for r in out if r.status == "complete" and r.delete_after is None)
    day = SimDay(at, taken, tuple(pruned), tuple(marked), kept, _bytes(out))
    return out, day


def simulate(
    series: str,
    snapshots: list[SnapshotRecord],
    policy: RetentionPolicy,
    every: timedelta | None,
    now: datetime,
    horizon: timedelta,
    *,
    grace: timedelta | None = None,
    protected: dict[str, str] | None = None,
) -> Simulation:
    """Replays the nightly job from `now` for `horizon`: runs at now, now + step, … (step:
    `every`, or a day without it), the last one before now + horizon."""
    step = every if every else DAY
    records = [s for s in snapshots if s.status not in ("deleted", "unknown")]
    days = []
    at = now
    while at < now + horizon:
        records, day = _run(records, policy, every, grace, at, protected or {})
        days.append(day)
        at += step
    left = sorted(records, key=lambda r: (r.created, r.id), reverse=True)
    return Simulation(series, tuple(days), tuple(left))
