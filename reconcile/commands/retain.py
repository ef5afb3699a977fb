"""`rlstate retain`: the nightly job — take due snapshots, wait, then prune by `keep`.

Touches snapshots only. Runs under the stack lock (so never beside `apply` or another
`retain`); the two-phase run is `reconcile.apply.retain_run`, which reuses the executor for
the snapshot and prune actions. A series whose due snapshot failed is not pruned that night,
and the run exits 1. Quiet when nothing changed; `--quiet` is silent unless an error. `--json`
writes one event per action and always ends with a `summary` event, also when the run stops on
an error. It decides nothing itself: what is due and what to prune come from
`reconcile.plan.retain_plan`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.commands.common import load
from reconcile.commands.connection import Endpoint, connect
from reconcile.commands.interrupts import run_async
from reconcile.commands.runlock import LockOptions, run_lock
from reconcile.errors import Interrupted, RlstateError

if TYPE_CHECKING:
    from datetime import datetime

    from reconcile.api.limiter import Cut
    from reconcile.api.retry import RetryEvent
    from reconcile.apply.events import Event
    from reconcile.apply.retain_run import Clock, RetainReport
    from reconcile.commands.connection import ConnectionSettings
    from reconcile.live.model import LiveState
    from reconcile.manifest import LoadedManifest
    from reconcile.manifest.schema import Manifest
    from reconcile.plan.model import Action


class _Output:
    """JSON lines as they happen (--json), or plain lines kept for the end of the run."""

    def __init__(self, json_out: bool, quiet: bool) -> None:
        self.json_out, self.quiet = json_out, quiet
        # someone is watching: say on stderr what a snapshot is waiting for (cron sees nothing)
        self.watched = not json_out and not quiet and sys.stderr.isatty()
        self.lines: list[str] = []
        self.tap: Callable[[dict[str, Any]], None] = lambda _data: None  # the run's history

    def event(self, data: dict[str, Any], text: str | None = None) -> None:
        self.tap(data)
        if self.json_out:
            sys.stdout.write(json.dumps(data) + "\n")
            sys.stdout.flush()
        elif text is not None:
            self.lines.append(text)

    def planned(self, action: Action) -> None:
        from reconcile.render import retain_planned

        self.event(*retain_planned(action))

    def ran(self, event: Event, action: Action | None) -> None:
        """Executor events: one per action when it ends (done, failed, skipped), and retries."""
        from reconcile.apply.events import ActionEvent
        from reconcile.render import retain_ran

        if (
            self.watched
            and isinstance(event, ActionEvent)
            and (event.kind, event.state) in (("snapshot", "started"), ("snapshot", "waiting"))
        ):
            from reconcile.progress import plain_line

            sys.stderr.write(plain_line(event) + "\n")
            sys.stderr.flush()
        shown = retain_ran(event, action)
        if shown is not None:
            self.event(*shown)

    def cut(self, cut: Cut) -> None:
        """The request limit was cut (429/503): a line as it happens, like apply's."""
        from reconcile.apply.events import LimitEvent

        event = LimitEvent(cut.status, cut.pause, cut.before, cut.after)
        self.event(event.to_json(), event.message)

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


async def _retain(
    endpoint: Endpoint,
    loaded: LoadedManifest,
    clock: Clock | None,
    dry_run: bool,
    out: _Output,
    report: RetainReport,
    metrics: bool,
) -> None:
    """One client for the whole run (each new client costs a TLS context). "Now" is the API's
    time (its answers' `Date`); `clock` overrides it where a test passes one."""
    from reconcile.api.client import RunloopClient
    from reconcile.apply.retain_run import run_retain
    from reconcile.commands.retain_after import after_run, metrics_after
    from reconcile.plan.retain_plan import RetainInputs

    inputs = RetainInputs(loaded, endpoint.origin)
    async with RunloopClient(
        endpoint.url, endpoint.key, on_retry=out.retry, on_cut=out.cut, lean=True
    ) as client:
        now = clock or client.api_clock.now
        await run_retain(client, inputs, now, dry_run, out, report)
        if not dry_run:
            await after_run(client, loaded.manifest, now, report, out.event)
            report.requests = client.stats.total
        elif report.live is not None:
            _announce_verifications(loaded.manifest, report.live, now(), out)
        if metrics:
            report.metrics = await metrics_after(client, loaded.manifest)


def _announce_verifications(
    manifest: Manifest, live: LiveState, now: datetime, out: _Output
) -> None:
    """--dry-run: each verification a real run would make."""
    from reconcile.commands.retain_after import due_verifications

    for series, snapshot_id in due_verifications(manifest, live, now):
        data = {"event": "verify", "series": series, "snapshot": snapshot_id, "state": "planned"}
        out.event(data, f"snapshot.{series}: would verify {snapshot_id} (restore into a probe)")


def _print_report(report: RetainReport, out: _Output, dry_run: bool) -> None:
    from reconcile.render import retain_series, retain_summary, retain_text, retention_row_json

    if out.json_out:
        for row in report.plan.retention if report.plan else ():
            out.event(retention_row_json(row))
        for info in retain_series(report):
            out.event(info)
        out.event(retain_summary(report, dry_run))
        return
    if out.quiet and not report.failed:
        return
    if not report.changed and not dry_run:
        return
    stream = sys.stderr if report.failed and out.quiet else sys.stdout
    stream.write(retain_text(report, out.lines, dry_run))


def run(
    manifest_path: Path,
    conn: ConnectionSettings,
    dry_run: bool,
    json_out: bool,
    quiet: bool,
    *,
    clock: Clock | None = None,
    allow_shrink: bool = False,
    prometheus: Path | None = None,
    lock: LockOptions | None = None,
) -> int:
    """Exit status 0 when every due snapshot was taken, every prune done (none refused by the
    shrink guard) and every due verification passed, else 1.

    "Now" is the API's time; `clock` overrides it (older tests pass the backend's clock)."""
    from reconcile.apply.retain_run import RetainReport
    from reconcile.commands.metrics_file import write_metrics

    out = _Output(json_out, quiet)
    report = RetainReport(allow_shrink=allow_shrink)
    try:
        loaded = load(manifest_path, need_env=False)
        if prometheus is not None:  # a bad path fails before the night's work, not after it
            from reconcile.commands.metrics_file import check_metrics_path

            check_metrics_path(prometheus)
        command = "retain --dry-run" if dry_run else "retain"
        with run_lock(loaded, conn, command, lock) as record, connect(conn, quiet=True) as ep:
            out.tap = record.event
            metrics = prometheus is not None
            run_async(_retain(ep, loaded, clock, dry_run, out, report, metrics))
            from reconcile.render import retain_summary

            record.planned(report.plan)
            record.event(retain_summary(report, dry_run))
            record.exit_code = 1 if report.failed else 0
    except (RlstateError, Interrupted) as error:
        if json_out:
            from reconcile.render import retain_summary

            report.error = " ".join(str(error).split()) or type(error).__name__
            out.event(retain_summary(report, dry_run))
        raise
    if prometheus is not None and report.metrics is not None:
        write_metrics(prometheus, report.metrics)
    _print_report(report, out, dry_run)
    return 1 if report.failed else 0
