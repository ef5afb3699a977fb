"""90 simulated nights of `rlstate retain` against the real local backend.

One run per simulated day (the backend's clock offset moves one day; it is the only time), with
two series on one stack devbox: `golden` (every 24h, keep last 3, daily 7, weekly 4, monthly 3)
and `weekly` (every 7d, keep last 2). Each night, checked from outside (SDK and a recording
proxy): the snapshots left are exactly what the retention engine decides over the series'
snapshots with their server-side create times; nothing else changed (a stack devbox, and a
devbox, snapshots and an object made with the official SDK); the newest complete snapshot is
there; a dry run first changed nothing and predicted exactly the real run's prunes; a second
run the same night does nothing and prints nothing. Some nights the snapshot ends in `error`
(exit 1, no prune that night); some nights 20% of API answers are 429/503.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from runloop_api_client import Runloop
from test_retain_support import (
    STACK,
    BackendClock,
    ProxyLog,
    events,
    inventory,
    managed_builder,
    mutating,
    newest_complete,
    predict,
    record,
    recording_proxy,
    sdk,
    series_snapshots,
    write_manifest,
)

from reconcile.commands import retain, status
from reconcile.commands.connection import ConnectionSettings
from reconcile.errors import RlstateError
from reconcile.retention import RetentionPolicy, SnapshotRecord

DAY = 86400.0
START = datetime(2031, 1, 27, 2, 0, tzinfo=UTC)  # a Monday, 02:00 UTC; 90 days cross 3 month ends
NIGHTS = 90
ERROR_NIGHTS = frozenset({12, 13, 49})  # 49: the weekly series is due too
FLAKY_NIGHTS = frozenset(range(5, NIGHTS, 9))
POLICIES = {
    "golden": RetentionPolicy(last=3, daily=7, weekly=4, monthly=3),
    "weekly": RetentionPolicy(last=2),
}
SERIES = {
    "golden": {
        "devbox": "builder",
        "every": "24h",
        "keep": {"last": 3, "daily": 7, "weekly": 4, "monthly": 3},
    },
    "weekly": {"devbox": "builder", "every": "7d", "keep": {"last": 2}},
}


@dataclass
class Nights:
    """The simulation's fixed parts and what it knows of each series' live snapshots."""

    client: Runloop
    clock: BackendClock
    log: ProxyLog
    conn: ConnectionSettings
    manifest: Path
    capsys: pytest.CaptureFixture[str]
    builder: str
    base_offset: float
    alive: dict[str, dict[str, SnapshotRecord]] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)

    def run(self, *, dry_run: bool = False, json_out: bool = True) -> tuple[int, str]:
        """`retain.run` in-process with the backend's clock: (exit status, stdout)."""
        try:
            code = retain.run(self.manifest, self.conn, dry_run, json_out, False, clock=self.clock.now)
        except RlstateError:
            code = 1
        return code, self.capsys.readouterr().out


def _bystanders(client: Runloop, builder: str) -> None:
    """What the official SDK made, which retain must never touch."""
    other = client.devboxes.create_and_await_running(name="not-rlstate")
    client.devboxes.snapshot_disk(other.id, name="other-tool")
    client.devboxes.snapshot_disk(builder, name="manual-of-builder")
    client.objects.create(name="notes.txt", content_type="text", metadata={"team": "x"})


def _prunes(evs: list[dict[str, Any]], state: str) -> set[str]:
    return {e["snapshot"] for e in evs if e.get("kind") == "prune" and e.get("state") == state}


def _taken(evs: list[dict[str, Any]], state: str) -> set[str]:
    return {e["address"] for e in evs if e.get("kind") == "snapshot" and e.get("state") == state}


def _dry_run(n: Nights) -> tuple[set[str], set[str]]:
    """A dry run: it changes nothing; returns what it says a real run would take and prune."""
    code, out = n.run(dry_run=True)
    assert code == 0, out
    assert mutating(n.log.take()) == []
    evs = events(out)
    assert evs[-1]["event"] == "summary" and evs[-1]["dry_run"] is True
    return _taken(evs, "planned"), _prunes(evs, "planned")


def _settled(client: Runloop, snap: Any) -> SnapshotRecord:
    """The snapshot's record once it is no longer in progress (faults may cut a wait short)."""
    for _ in range(200):
        rec = record(client, snap)
        if rec.status != "in_progress":
            return rec
        time.sleep(0.05)
    raise AssertionError(f"snapshot {snap.id} stayed in progress")


def _check_series(n: Nights, name: str, code: int, pruned: set[str]) -> set[str]:
    """Compares one series with the engine's decision; returns the ids it says to delete."""
    live = series_snapshots(n.client, name)
    known = n.alive.setdefault(name, {})
    new = [_settled(n.client, live[i]) for i in live if i not in known]
    records = [*known.values(), *new]
    decision = predict(records, POLICIES[name], n.clock.now())
    expected = {v.snapshot.id for v in decision.to_delete}
    gone = set(known) - set(live)
    newest = newest_complete(records)
    assert newest is None or newest.id in live, f"{name}: newest complete {newest.id} is gone"
    assert gone <= expected, f"{name}: deleted {gone - expected}, which the engine keeps"
    if code == 0:
        assert gone == expected, f"{name}: engine would also delete {expected - gone}"
    assert gone == pruned & (gone | expected), f"{name}: events and live state disagree"
    n.alive[name] = {r.id: r for r in records if r.id in live}
    return expected
