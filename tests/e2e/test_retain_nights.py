"""90 simulated nights of `rlstate retain` against the real local backend.

One run per simulated day (the backend's clock offset moves one day; it is the only time), with
two series on one stack devbox: `golden` (every 24h, keep last 3, daily 7, weekly 4, monthly 3)
and `weekly` (every 7d, keep last 2). Each night, checked from outside (SDK and a recording
proxy): the snapshots left are exactly what the retention engine decides over the series'
snapshots with their server-side create times; nothing else changed (a stack devbox, and a
devbox, snapshots and an object made with the official SDK); the newest complete snapshot is
there; a dry run first changed nothing and predicted exactly the real run's prunes; a second
run the same night does nothing and prints nothing. Some nights the snapshot ends in `error`
(exit 1, no prune that night); some nights 20% of API answers are 429/503. The API keeps
snapshots that ended in error (their delete is a 409): the night the engine prunes one, the
run still exits 0 and leaves it marked `rlstate.delete_refused`, and no later night tries again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from retain_support import (
    REFUSED_KEY,
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
from runloop_api_client import Runloop

from reconcile.commands import retain, status
from reconcile.commands.connection import ConnectionSettings
from reconcile.errors import RlstateError
from reconcile.retention import RetentionPolicy, SnapshotRecord

DAY = 86400.0
START = datetime(2031, 1, 27, 2, 0, tzinfo=UTC)  # a Monday, 02:00 UTC; 90 days cross 3 month ends
NIGHTS = 90
ERROR_NIGHTS = frozenset({12, 13, 49})  # 49: the weekly series is due too
FLAKY_NIGHTS = frozenset(range(5, NIGHTS, 9))
HOSTILE_NIGHTS = frozenset({60, 61, 62})  # 60% of answers fail: some calls run out of retries
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
            code = retain.run(
                self.manifest, self.conn, dry_run, json_out, False, clock=self.clock.now
            )
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
    deadline = time.monotonic() + 60  # generous: the machine may be busy
    while time.monotonic() < deadline:
        rec = record(client, snap)
        if rec.status != "in_progress":
            return rec
        time.sleep(0.05)
    raise AssertionError(f"snapshot {snap.id} stayed in progress for 60 s")


def _marked(snap: Any) -> bool:
    return (snap.metadata or {}).get(REFUSED_KEY) == "error"


def _check_series(
    n: Nights, name: str, code: int, pruned: set[str], left: set[str]
) -> tuple[set[str], set[str]]:
    """Compares one series with the engine's decision; returns the ids it says to delete, and
    those of them that ended in error (the API refuses to delete them: they must stay, marked).
    `pruned`: done prunes the run reported; `left`: those of them the API refused."""
    live = series_snapshots(n.client, name)
    known = n.alive.setdefault(name, {})
    new = [_settled(n.client, live[i]) for i in live if i not in known]
    records = [*known.values(), *new]
    decision = predict(records, POLICIES[name], n.clock.now())
    expected = {v.snapshot.id for v in decision.to_delete}
    errors = {r.id for r in records if r.id in expected and r.status == "error"}
    gone = set(known) - set(live)
    newest = newest_complete(records)
    assert newest is None or newest.id in live, f"{name}: newest complete {newest.id} is gone"
    assert gone <= expected - errors, f"{name}: deleted {gone - expected}, which the engine keeps"
    if code == 0:
        assert gone == expected - errors, f"{name}: engine would also delete {expected - gone}"
        assert errors <= left, f"{name}: {errors - left} not reported as left in place"
        assert all(_marked(live[i]) for i in errors), f"{name}: left without the mark"
    assert gone == pruned & set(known), f"{name}: the run's events and the live state disagree"
    assert left & set(known) <= errors, f"{name}: {left - errors} left, but it is no error"
    n.alive[name] = {
        r.id: replace(r, delete_refused=_marked(live[r.id])) for r in records if r.id in live
    }
    return expected, errors


def _check_requests(
    n: Nights,
    requests: list[tuple[str, str]],
    expected: set[str],
    known: set[str],
    errors: set[str],
) -> None:
    """The run wrote only snapshots of the stack devbox (and rlstate's "seen complete" mark on
    the one it took or on a kept one it read complete, or its "delete refused" mark on an
    error one it was to prune), and deletes the engine agrees with."""
    for method, path in mutating(requests):
        if (method, path) == ("POST", f"/v1/devboxes/{n.builder}/snapshot_disk_async"):
            continue
        parts = path.split("/")
        if len(parts) == 5 and parts[3] == "disk_snapshots" and parts[4] not in known:
            continue  # the mark on a snapshot taken this run
        if len(parts) == 5 and parts[3] == "disk_snapshots" and parts[4] in errors:
            continue  # the mark on an error snapshot whose delete the API refused
        if len(parts) == 5 and parts[3] == "disk_snapshots" and parts[4] not in expected:
            continue  # the completion stamp on a kept snapshot this run read complete
        is_delete = path.startswith("/v1/devboxes/disk_snapshots/") and parts[-1] == "delete"
        assert method == "POST" and is_delete and parts[4] in expected, f"{method} {path}"


def _check_status(n: Nights) -> None:
    """`rlstate status` gives each series' newest complete snapshot and its age."""
    import json

    assert status.run(n.manifest, n.conn, True, clock=n.clock.now) == 0
    report = json.loads(n.capsys.readouterr().out)
    now = n.clock.now()
    for name in SERIES:
        newest = newest_complete(list(n.alive[name].values()))
        assert newest is not None
        info = report["series"][f"snapshot.{name}"]
        assert info["newest_complete"] == newest.id
        age = (now - newest.created).total_seconds()
        assert abs(info["newest_complete_age_seconds"] - age) < 60


def _second_run_does_nothing(n: Nights) -> None:
    code, out = n.run(json_out=False)
    assert (code, out) == (0, ""), out
    assert mutating(n.log.take()) == []


def _faults_for(n: Nights, night: int) -> None:
    if night in ERROR_NIGHTS:
        n.clock.faults(snapshot_error_rate=1.0)
    if night in FLAKY_NIGHTS | HOSTILE_NIGHTS:
        rate = 0.6 if night in HOSTILE_NIGHTS else 0.2
        n.clock.faults(rate=rate, statuses=[429, 503], retry_after=0.02, seed=night)


def _kind(night: int, code: int) -> str:
    if night in ERROR_NIGHTS:
        return "error"
    if night in FLAKY_NIGHTS | HOSTILE_NIGHTS:
        return f"{'flaky' if night in FLAKY_NIGHTS else 'hostile'} exit {code}"
    return "clean"


def _night(n: Nights, night: int) -> None:
    n.clock.set_offset(n.base_offset + night * DAY)
    planned_taken, planned_prunes = _dry_run(n)
    _faults_for(n, night)
    code, out = n.run()
    n.clock.faults(rate=0.0, snapshot_error_rate=0.0)
    evs = events(out)
    summary = evs[-1]
    assert summary["event"] == "summary" and summary["result"] in ("ok", "failed", "error")
    assert code == (0 if summary["result"] == "ok" else 1)
    done = _prunes(evs, "done")
    left = done & {e["snapshot"] for e in evs if e["event"] == "retention" and e["left"]}
    pruned = done - left
    before = {i for alive in n.alive.values() for i in alive}
    expected: set[str] = set()
    errors: set[str] = set()
    for name in SERIES:
        to_delete, undeletable = _check_series(n, name, code, pruned, left)
        expected |= to_delete
        errors |= undeletable
    _check_requests(n, n.log.take(), expected, before, errors)
    retries = sum(1 for e in evs if e["event"] in ("retry", "throttled"))
    kind = _kind(night, code)
    counts = (("retries", retries), ("pruned", len(pruned)), ("left", len(left)), (kind, 1))
    for key, amount in counts:
        n.outcomes[key] = n.outcomes.get(key, 0) + amount
    if night in ERROR_NIGHTS:
        assert code == 1 and summary["failed"] >= 1 and summary["pruned"] == 0, out
        assert all("ended in error" in f["reason"] for f in summary["failures"]), out
        return
    if night in FLAKY_NIGHTS | HOSTILE_NIGHTS:
        return
    assert code == 0, out
    assert (_taken(evs, "done"), done) == (planned_taken, planned_prunes)
    assert summary["taken"] == len(planned_taken) and summary["pruned"] == len(pruned)
    _second_run_does_nothing(n)


def test_ninety_nights_keep_exactly_what_the_engine_decides(
    local_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = sdk(local_server)
    clock = BackendClock(local_server)
    base = (START - datetime.now(UTC)).total_seconds()
    clock.set_offset(base)
    builder = managed_builder(client)
    _bystanders(client, builder)
    manifest = write_manifest(tmp_path, SERIES, devboxes=True)
    before = inventory(client)
    with recording_proxy(local_server.url) as (url, log):
        conn = ConnectionSettings.from_flags(
            api_url=url, api_key=local_server.token, local_dir=tmp_path / "local"
        )
        n = Nights(client, clock, log, conn, manifest, capsys, builder, base)
        for night in range(NIGHTS):
            _night(n, night)
            assert inventory(client) == before, f"night {night}: something else changed"
            if night % 30 == 29:
                _check_status(n)
    clock.close()
    print(f"\n90 nights: {n.outcomes}")
    months = {r.created.strftime("%Y-%m") for r in n.alive["golden"].values()}
    assert months == {"2031-02", "2031-03", "2031-04"}  # monthly 3 reaches back to February
    assert n.outcomes["retries"] > 0 and n.outcomes["pruned"] > 60
    # Every snapshot that ended in error is still there (the API keeps them), marked, and was
    # left once: a second night never asked to delete it again.
    failed = [r for alive in n.alive.values() for r in alive.values() if r.status == "error"]
    assert len(failed) >= len(ERROR_NIGHTS) and all(r.delete_refused for r in failed)
    assert n.outcomes["left"] == len(failed)
    assert n.outcomes["clean"] == NIGHTS - len(ERROR_NIGHTS | FLAKY_NIGHTS | HOSTILE_NIGHTS)
