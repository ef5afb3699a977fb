"""`rlstate retain`: the nightly job — take due snapshots, wait, then prune by `keep`.

Touches snapshots only. Runs under the stack lock (so never beside `apply` or another
`retain`), and reuses the executor for the snapshot and prune actions. A series whose due
snapshot failed is not pruned that night, and the run exits 1. Quiet when nothing changed;
`--quiet` is silent unless an error. `--json` writes one event per action and always ends with
a `summary` event, also when the run stops on an error. It decides nothing itself: what is due
and what to prune come from `reconcile.plan.retaining`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.commands.common import load, locked, utc_now
from reconcile.commands.connection import ConnectionSettings, Endpoint, connect
from reconcile.commands.interrupts import run_async
from reconcile.errors import Interrupted, RlstateError
from reconcile.plan.model import Plan, RetentionRow

if TYPE_CHECKING:
    from reconcile.api.retry import RetryEvent
    from reconcile.live.model import LiveState
    from reconcile.manifest import LoadedManifest
    from reconcile.manifest.schema import Manifest
    from reconcile.plan.retaining import SeriesPrune

Clock = Callable[[], datetime]
StatusesNeeded = Callable[["LiveState"], frozenset[str]]
HELD = "not pruned: this run's snapshot of the series failed"
HELD_OTHER = "not pruned: a snapshot this run took (of another series) failed"


@dataclass
class RetainReport:
    """What one retain run did (or, with --dry-run, would do), for the summary."""

    taken: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # this run's prunes the API refused (error)
    refused: list[str] = field(default_factory=list)
    prunes: list[SeriesPrune] = field(default_factory=list)
    plan: Plan | None = None
    requests: int = 0
    error: str | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def kept(self) -> int:
        return sum(1 for r in self.plan.retention if r.keep and not r.left) if self.plan else 0

    @property
    def changed(self) -> bool:
        return bool(self.taken or self.pruned or self.left or self.failed or self.refused)

    @property
    def result(self) -> str:
        return "error" if self.error else "failed" if self.failed else "ok"

    def summary(self, dry_run: bool) -> dict[str, Any]:
        """The last JSON event: counts a cron wrapper checks, and why anything failed."""
        return {
            "event": "summary",
            "result": self.result,
            "dry_run": dry_run,
            "taken": len(self.taken),
            "pruned": len(self.pruned),
            "kept": self.kept,
            "left": sum(1 for r in self.plan.retention if r.left) if self.plan else 0,
            "failed": len(self.failed),
            "failures": [{"id": i, "reason": why} for i, why in self.failed],
            "refused": self.refused,
            "error": self.error,
            "requests": self.requests,
            "elapsed_s": round(time.monotonic() - self.started, 3),
        }


class _Output:
    """JSON lines as they happen (--json), or plain lines kept for the end of the run."""

    def __init__(self, json_out: bool, quiet: bool) -> None:
        self.json_out, self.quiet = json_out, quiet
        self.lines: list[str] = []
        self.prune_ids: dict[str, str] = {}

    def event(self, data: dict[str, Any], text: str | None = None) -> None:
        if self.json_out:
            sys.stdout.write(json.dumps(data) + "\n")
            sys.stdout.flush()
        elif text is not None:
            self.lines.append(text)

    def sink(self, event: Any) -> None:
        """Executor events: one per action when it ends (done, failed, skipped), and retries."""
        from reconcile.apply.events import ActionEvent, ThrottledEvent

        if isinstance(event, ThrottledEvent):
            self.event(event.to_json(), f"{event.address}: {event.message}")
        elif isinstance(event, ActionEvent) and event.state in ("done", "failed", "skipped"):
            data = event.to_json()
            if event.kind == "prune":
                data["snapshot"] = self.prune_ids.get(event.id)
            text = event.message
            if not text.startswith(event.address):
                text = f"{event.address}: {text}"
            # A done prune shows in the table; the lines say what else happened.
            self.event(data, None if (event.kind, event.state) == ("prune", "done") else text)

    def retry(self, event: RetryEvent) -> None:
        data = {
            "event": "throttled" if event.status == 429 else "retry",
            "status": event.status,
            "method": event.method,
            "path": event.path,
            "attempt": event.attempt,
            "delay_s": round(event.delay, 3),
            "message": str(event),
        }
        self.event(data, f"{event.method} {event.path}: {event}")


class _Session:
    """One run's API client, opened once (each new client costs a TLS context): discovery
    and the executor share it; `requests` counts all."""

    def __init__(self, endpoint: Endpoint, out: _Output) -> None:
        from reconcile.api.client import RunloopClient

        self.endpoint, self.out = endpoint, out
        self.client = RunloopClient(endpoint.url, endpoint.key, on_retry=out.retry)
        self.left: set[str] = set()  # action ids whose delete the API refused (error snapshots)

    @property
    def requests(self) -> int:
        return self.client.stats.total

    async def read_needed(self, live: LiveState, needed: StatusesNeeded) -> LiveState:
        """`live` with every status `needed` names read (repeating until none is missing)."""
        from reconcile.live.discovery import read_statuses

        for _ in range(len(live.snapshots) + 1):
            ids = needed(live)
            if not ids:
                break
            live = live.with_statuses(await read_statuses(self.client, ids))
        return live

    async def discover(self, manifest: Manifest, needed: StatusesNeeded) -> LiveState:
        """The stack as listed now, with the statuses `needed` names."""
        from reconcile.live.discovery import list_stack

        return await self.read_needed(await list_stack(self.client, manifest), needed)

    async def run(self, plan: Plan) -> tuple[list[str], list[tuple[str, str]]]:
        """Runs `plan` through the executor: ids done, and (id, why) failed or skipped."""
        from reconcile.apply.executor import apply_plan

        if not plan.actions:
            return [], []
        self.out.prune_ids.update(
            {a.id: a.resource_id or "" for a in plan.actions if a.kind == "prune"}
        )
        result = await apply_plan(plan, self.client, emit=self.out.sink)
        self.left.update(action_id for action_id, _ in result.left_behind)
        return list(result.done), [*result.failed, *result.skipped]

    async def aclose(self) -> None:
        await self.client.aclose()


def _announce(plan: Plan, out: _Output) -> None:
    """--dry-run: one `planned` event per action a real run would take."""
    for action in plan.actions:
        data: dict[str, Any] = {
            "event": "action",
            "id": action.id,
            "address": action.address,
            "kind": action.kind,
            "state": "planned",
            "message": "; ".join(action.reasons),
        }
        if action.kind == "prune":
            data["snapshot"] = action.resource_id
            out.event(data)
        else:
            out.event(data, f"{action.address}: would take a snapshot ({action.reasons[0]})")


def _base_plan(loaded: LoadedManifest, endpoint: Endpoint, now: datetime) -> Plan:
    return Plan(
        stack=loaded.manifest.stack,
        manifest_path=str(loaded.path),
        manifest_sha256=loaded.sha256,
        created_at=now.isoformat(),
        api_url=endpoint.origin,
    )


async def _retain(
    endpoint: Endpoint,
    loaded: LoadedManifest,
    clock: Clock,
    dry_run: bool,
    out: _Output,
    report: RetainReport,
) -> None:
    session = _Session(endpoint, out)
    try:
        await _retain_with(session, loaded, clock, dry_run, report)
    finally:
        report.requests = session.requests
        await session.aclose()


async def _retain_with(
    session: _Session, loaded: LoadedManifest, clock: Clock, dry_run: bool, report: RetainReport
) -> None:
    from reconcile.plan import retaining as r

    manifest, now, out = loaded.manifest, clock(), session.out
    base = _base_plan(loaded, session.endpoint, now)
    live = await session.discover(manifest, lambda lv: r.due_statuses_needed(manifest, lv))
    jobs = r.due_jobs(manifest, live, now)
    blocked = [(j.series, j.blocked) for j in jobs if j.blocked is not None]
    report.failed.extend((f"snapshot snapshot.{name}", why) for name, why in blocked)
    held = {name: HELD for name, _ in blocked}
    shots = r.snapshot_plan(manifest, jobs, base)
    assume: frozenset[str] = frozenset()
    if dry_run:
        _announce(shots, out)
        report.taken = [a.id for a in shots.actions]
        assume = frozenset(a.params["series"] for a in shots.actions)
    else:
        report.taken, failed = await session.run(shots)
        report.failed.extend(failed)
        if failed:  # the manifest's rule: a run whose own snapshot failed prunes nothing
            lost = {shots.action(i).params["series"] for i, _ in failed}
            held.update({name: HELD if name in lost else HELD_OTHER for name in manifest.snapshots})
    needed: StatusesNeeded = lambda lv: r.prune_statuses_needed(manifest, lv)  # noqa: E731
    if shots.actions and not dry_run:  # list again: new snapshots, complete or failed
        now = clock()
        live = await session.discover(manifest, needed)
    else:
        live = await session.read_needed(live, needed)
    report.prunes = r.prune_decisions(manifest, live, now, assume_new=assume)
    report.refused = [
        f"snapshot.{p.series}: {p.decision.refused}" for p in report.prunes if p.decision.refused
    ]
    pruning = r.prune_plan(report.prunes, held, base)
    report.plan = pruning
    if dry_run:
        _announce(pruning, out)
        report.pruned = [a.resource_id or "" for a in pruning.actions]
        return
    done, failed = await session.run(pruning)
    snapshot_of = {a.id: a.resource_id or "" for a in pruning.actions}  # Plan.action is linear
    report.pruned = [snapshot_of[i] for i in done if i not in session.left]
    report.left = [snapshot_of[i] for i in done if i in session.left]
    report.failed.extend(failed)
    report.plan = _mark_unpruned(pruning, {snapshot_of[i]: why for i, why in failed}, report.left)


def _mark_unpruned(plan: Plan, still: dict[str, str], left: list[str]) -> Plan:
    """Rows whose prune failed or did not run (snapshot id → why) say kept, and why; rows whose
    prune the API refused for good (an error snapshot) say left."""
    from reconcile.retention import LEFT_REASON

    def mark(row: RetentionRow) -> RetentionRow:
        if row.keep:
            return row
        if row.snapshot_id in still:
            why = f"prune failed: {still[row.snapshot_id]}"
            return replace(row, keep=True, reasons=(*row.reasons, why))
        if row.snapshot_id in left:
            return replace(row, keep=True, left=True, reasons=(*row.reasons, LEFT_REASON))
        return row

    return replace(plan, retention=tuple(mark(row) for row in plan.retention))


def _series_lines(report: RetainReport, dry_run: bool) -> list[dict[str, Any]]:
    """Per series: its policy in words and how many snapshots stay and go."""
    rows = report.plan.retention if report.plan else ()
    gone = set(report.pruned)
    out = []
    for item in report.prunes:
        mine = [r for r in rows if r.series == item.series]
        policy = item.decision.policy
        out.append(
            {
                "event": "series",
                "series": item.series,
                "policy": policy.describe() if policy else "",
                "kept": sum(1 for r in mine if r.keep and not r.left),
                "pruned": sum(1 for r in mine if r.snapshot_id in gone),
                "left": sum(1 for r in mine if r.left),
                "refused": item.decision.refused,
            }
        )
    return out


def _row_event(row: RetentionRow) -> dict[str, Any]:
    return {
        "event": "retention",
        "series": row.series,
        "snapshot": row.snapshot_id,
        "created": row.created,
        "status": row.status,
        "keep": row.keep,
        "left": row.left,
        "reasons": list(row.reasons),
        "size_bytes": row.size_bytes,
        "managed": row.managed,
    }


def _text(report: RetainReport, out: _Output, dry_run: bool) -> str:
    from reconcile.render import retention_table

    lines = list(out.lines)
    if report.plan and report.plan.retention:
        lines.append(retention_table(report.plan.retention))
    for info in _series_lines(report, dry_run):
        verb = "would be pruned" if dry_run else "pruned"
        line = f"snapshot.{info['series']} ({info['policy']}): {info['kept']} kept"
        line += f", {info['pruned']} {verb}"
        if info["left"]:
            line += f", {info['left']} left in place (ended in error; the API refuses to delete)"
        if info["refused"]:
            line += f"; prune refused: {info['refused']}"
        lines.append(line)
    s = report.summary(dry_run)
    lines.append(
        f"Retain{' (dry run)' if dry_run else ''}: {'would take' if dry_run else 'took'} "
        f"{s['taken']} snapshot(s), {'would prune' if dry_run else 'pruned'} {s['pruned']}, "
        f"kept {s['kept']}, failed {s['failed']}"
        + (f", left {s['left']} that ended in error (the API keeps those)." if s["left"] else ".")
    )
    lines.extend(f"error: {action_id}: {reason}" for action_id, reason in report.failed)
    return "\n".join(lines) + "\n"


def _print_report(report: RetainReport, out: _Output, dry_run: bool) -> None:
    if out.json_out:
        for row in report.plan.retention if report.plan else ():
            out.event(_row_event(row))
        for info in _series_lines(report, dry_run):
            out.event(info)
        out.event(report.summary(dry_run))
        return
    if out.quiet and not report.failed:
        return
    if not report.changed and not dry_run:
        return
    stream = sys.stderr if report.failed and out.quiet else sys.stdout
    stream.write(_text(report, out, dry_run))


def run(
    manifest_path: Path,
    conn: object,
    dry_run: bool,
    json_out: bool,
    quiet: bool,
    *,
    clock: Clock = utc_now,
) -> int:
    """Exit status 0 when every due snapshot was taken and every prune done, else 1.

    `clock` gives "now" for `every` and `within` (tests pass the backend's clock)."""
    assert isinstance(conn, ConnectionSettings)
    out = _Output(json_out, quiet)
    report = RetainReport()
    try:
        loaded = load(manifest_path, need_env=False)
        folder = manifest_path.resolve().parent / ".rlstate"
        with locked(folder, loaded.manifest.stack, "retain"), connect(conn, quiet=True) as ep:
            run_async(_retain(ep, loaded, clock, dry_run, out, report))
    except (RlstateError, Interrupted) as error:
        if json_out:
            report.error = " ".join(str(error).split()) or type(error).__name__
            out.event(report.summary(dry_run))
        raise
    _print_report(report, out, dry_run)
    return 1 if report.failed else 0
