"""`rlstate retain`: the nightly job — take due snapshots, wait, then prune by `keep`.

Touches snapshots only. Runs under the stack lock (so never beside `apply`), and reuses the
executor for the snapshot and prune actions. A series whose due snapshot failed is not pruned
that night, and the run exits 1. Quiet when nothing changed; `--quiet` is silent unless an error.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reconcile.commands.common import discover, load, utc_now
from reconcile.commands.connection import ConnectionSettings, Endpoint, connect
from reconcile.plan.model import Plan


@dataclass
class RetainReport:
    """What one retain run did, for the summary line/event."""

    taken: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    kept: int = 0
    refused: list[str] = field(default_factory=list)
    plan: Plan | None = None
    requests: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.taken or self.pruned or self.failed)

    def summary(self, dry_run: bool) -> dict[str, Any]:
        return {
            "event": "summary",
            "dry_run": dry_run,
            "taken": len(self.taken),
            "pruned": len(self.pruned),
            "kept": self.kept,
            "failed": len(self.failed),
            "refused": self.refused,
            "requests": self.requests,
            "result": "failed" if self.failed else "ok",
        }


class _Output:
    """Prints events as JSON lines (--json) or plain lines, buffering plain ones if quiet."""

    def __init__(self, json_out: bool, quiet: bool) -> None:
        self.json_out, self.quiet, self.lines = json_out, quiet, list[str]()

    def event(self, data: dict[str, Any], text: str | None = None) -> None:
        if self.json_out:
            sys.stdout.write(json.dumps(data) + "\n")
            sys.stdout.flush()
        elif text is not None:
            self.lines.append(text)

    def sink(self, event: Any) -> None:
        from reconcile.apply.events import ActionEvent, ThrottledEvent

        if isinstance(event, ActionEvent | ThrottledEvent):
            data = event.to_json()
            state = data.get("state")
            text = None
            if isinstance(event, ThrottledEvent) or state in ("done", "failed", "skipped"):
                text = f"{data.get('address', '')} {data.get('message', '')}".strip()
            self.event(data, text)


async def _run_phase(
    plan: Plan, endpoint: Endpoint, out: _Output
) -> tuple[list[str], list[tuple[str, str]], int]:
    from reconcile.apply.clients import ApiClients
    from reconcile.apply.executor import apply_plan

    if not plan.actions:
        return [], [], 0
    api = ApiClients.open(endpoint.url, endpoint.key)
    try:
        result = await apply_plan(plan, api, emit=out.sink)
    finally:
        await api.aclose()
    return list(result.done), [*result.failed, *result.skipped], result.requests


async def _retain(
    endpoint: Endpoint, loaded: Any, now: datetime, dry_run: bool, out: _Output
) -> RetainReport:
    from reconcile.commands.common import make_client
    from reconcile.plan.retaining import due_jobs, prune_decisions, prune_plan, snapshot_plan

    manifest = loaded.manifest
    base = Plan(
        stack=manifest.stack,
        manifest_path=str(loaded.path),
        manifest_sha256=loaded.sha256,
        created_at=now.isoformat(),
        api_url=endpoint.url,
    )
    report = RetainReport()
    async with make_client(endpoint) as client:
        live = await discover(client, loaded, now)
        report.requests += client.stats.total
    jobs = due_jobs(manifest, live, now)
    blocked = [(f"snapshot snapshot.{j.series}", j.blocked) for j in jobs if j.blocked]
    report.failed.extend((a, b) for a, b in blocked if b)
    shots = snapshot_plan(manifest, jobs, base)
    failed_series: set[str] = {j.series for j in jobs if j.blocked}
    if dry_run:
        for action in shots.actions:
            out.event(
                {
                    "event": "action",
                    "id": action.id,
                    "address": action.address,
                    "kind": "snapshot",
                    "state": "planned",
                    "message": action.reasons[0],
                },
                f"{action.address}: would take a snapshot ({action.reasons[0]})",
            )
        report.taken = [a.id for a in shots.actions]
        assume = frozenset(a.params["series"] for a in shots.actions)
    else:
        done, failed, requests = await _run_phase(shots, endpoint, out)
        report.taken, report.requests = done, report.requests + requests
        report.failed.extend(failed)
        failed_series |= {i.split("snapshot.", 1)[1] for i, _ in failed}
        assume = frozenset()
        async with make_client(endpoint) as client:
            live = await discover(client, loaded, utc_now())
            report.requests += client.stats.total
    prunes = prune_decisions(manifest, live, utc_now() if not dry_run else now, assume_new=assume)
    report.refused = [f"{p.series}: {p.decision.refused}" for p in prunes if p.decision.refused]
    pruning = prune_plan(prunes, frozenset(failed_series), base)
    report.plan = pruning
    report.kept = sum(1 for r in pruning.retention if r.keep)
    if dry_run:
        report.pruned = [a.resource_id or "" for a in pruning.actions]
    else:
        done, failed, requests = await _run_phase(pruning, endpoint, out)
        report.pruned, report.requests = done, report.requests + requests
        report.failed.extend(failed)
    return report


def _print_report(report: RetainReport, out: _Output, dry_run: bool) -> None:
    from reconcile.render import retention_table

    summary = report.summary(dry_run)
    if out.json_out:
        for row in report.plan.retention if report.plan else ():
            out.event(
                {
                    "event": "retention",
                    "series": row.series,
                    "snapshot": row.snapshot_id,
                    "created": row.created,
                    "status": row.status,
                    "keep": row.keep,
                    "reasons": list(row.reasons),
                    "size_bytes": row.size_bytes,
                    "managed": row.managed,
                }
            )
        out.event(summary)
        return
    if out.quiet and not report.failed:
        return
    if not report.changed and not dry_run and not report.failed:
        return
    lines = list(out.lines)
    if report.plan and report.plan.retention:
        lines.append(retention_table(report.plan.retention))
    verb = "would take" if dry_run else "took"
    lines.append(
        f"Retain{' (dry run)' if dry_run else ''}: {verb} {summary['taken']} "
        f"snapshot(s), {'would prune' if dry_run else 'pruned'} {summary['pruned']}, "
        f"kept {summary['kept']}, failed {summary['failed']}."
    )
    for action_id, reason in report.failed:
        lines.append(f"error: {action_id}: {reason}")
    stream = sys.stderr if report.failed and out.quiet else sys.stdout
    stream.write("\n".join(lines) + "\n")


def run(manifest_path: Path, conn: object, dry_run: bool, json_out: bool, quiet: bool) -> int:
    from reconcile.apply.lock import stack_lock

    assert isinstance(conn, ConnectionSettings)
    loaded = load(manifest_path)
    out = _Output(json_out, quiet)
    now = utc_now()
    folder = manifest_path.resolve().parent / ".rlstate"
    with stack_lock(folder, loaded.manifest.stack, "retain"), connect(conn, quiet=True) as ep:
        report = asyncio.run(_retain(ep, loaded, now, dry_run, out))
    _print_report(report, out, dry_run)
    return 1 if report.failed else 0
