"""What `retain` does after its snapshots and prunes: verified restores that are due, then the
last-run stamp of each series that acted or failed. Decisions come from `reconcile.verification`
and `reconcile.stamps`; this module only carries them out through the client.

Stamps merge into the metadata as listed (the API replaces the whole map), through one cache so
that a verify stamp and a last-run stamp on the same snapshot both survive. A run that changed
nothing for a series and whose result matches the recorded one writes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconcile.errors import ApiNotFoundError
from reconcile.live.model import KEY_STACK, KEY_STATE
from reconcile.verification import Verified

if TYPE_CHECKING:
    from reconcile.api.client import RunloopClient
    from reconcile.apply.retain_run import RetainReport
    from reconcile.live.model import LiveSnapshot, LiveState
    from reconcile.manifest.schema import Manifest
    from reconcile.plan.series import SeriesView


@dataclass
class Stamper:
    """Metadata writes of this run, merged over the listed metadata."""

    client: RunloopClient
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)

    def current(self, snap: LiveSnapshot) -> dict[str, str]:
        """What the snapshot's metadata is now: this run's writes, else the listed map plus the
        completion stamp this run merged into every complete one it kept (see apply/stamps.py)."""
        if snap.id in self.metadata:
            return self.metadata[snap.id]
        listed = dict(snap.metadata)
        if snap.status == "complete":
            listed[KEY_STATE] = "complete"
        return listed

    async def write(self, snap: LiveSnapshot, changes: dict[str, str]) -> None:
        if KEY_STACK not in snap.metadata:
            return  # not the stack's (yet): an `import:` entry's snapshot before the adopting apply
        merged = {**self.current(snap), **changes}
        if merged == self.current(snap):
            return
        await self.client.update_snapshot(snap.id, name=snap.name, metadata=merged)
        self.metadata[snap.id] = merged


def _candidates(view: SeriesView) -> list[Any]:
    from reconcile.stamps import verified_at
    from reconcile.verification import Candidate

    return [
        Candidate(
            s.id,
            s.created,
            s.status == "complete",
            s.delete_after is not None,
            verified_at(s.metadata),
        )
        for s in view.managed
    ]


def due_verifications(manifest: Manifest, live: LiveState, now: datetime) -> list[tuple[str, str]]:
    """(series, snapshot id) of each verification due now."""
    from reconcile.plan.series import series_views
    from reconcile.verification import verify_target

    due = []
    for view in series_views(manifest, live):
        spec = view.spec.verify
        if spec is None:
            continue
        target = verify_target(_candidates(view), spec.every, now)
        if target is not None:
            due.append((view.name, target))
    return due


async def verify(
    stamper: Stamper,
    manifest: Manifest,
    live: LiveState,
    now: Callable[[], datetime],
    announce: Callable[[str], None],
) -> list[Verified]:
    """Removes probes a killed run left, then runs each due verification and stamps it."""
    from reconcile.apply.probe import remove_leftover_probes, run_probe
    from reconcile.live.model import KEY_VERIFIED, KEY_VERIFY_FAILED, format_time
    from reconcile.verification import output_tail

    if not any(s.verify for s in manifest.snapshots.values()):
        return []
    client = stamper.client
    for devbox_id in await remove_leftover_probes(client, manifest.stack):
        announce(f"removed probe devbox {devbox_id} that an earlier run left behind")
    by_id = {s.id: s for s in live.snapshots}
    done = []
    for series, snapshot_id in due_verifications(manifest, live, now()):
        spec = manifest.snapshots[series].verify
        assert spec is not None
        timeout = spec.timeout.total_seconds()
        result = await run_probe(client, manifest.stack, series, snapshot_id, spec.command, timeout)
        when = format_time(now())
        if result.ok:
            await stamper.write(by_id[snapshot_id], {KEY_VERIFIED: when})
            done.append(Verified(series, snapshot_id, True, result.reason))
            continue
        await stamper.write(by_id[snapshot_id], {KEY_VERIFY_FAILED: f"{when} {result.reason}"})
        tail = output_tail(result.stdout, result.stderr)
        done.append(Verified(series, snapshot_id, False, result.reason, tail))
    return done


def _newest(view: SeriesView, gone: set[str]) -> LiveSnapshot | None:
    present = [
        s
        for s in view.managed
        if KEY_STACK in s.metadata and s.status != "deleted" and s.id not in gone
    ]
    return max(present, key=lambda s: (s.create_time_ms, s.id)) if present else None


async def stamp_last_runs(
    stamper: Stamper,
    manifest: Manifest,
    live: LiveState,
    started: datetime,
    now: datetime,
    acted: set[str],
    failed: set[str],
    gone: set[str],
) -> None:
    """Stamps `rlstate.last_run` on the newest snapshot of each series that acted or failed,
    or whose recorded result this run changes; not where this run's snapshot already carries
    the right stamp (written in its create call)."""
    from reconcile.live.model import KEY_LAST_RUN
    from reconcile.plan.series import series_views
    from reconcile.stamps import LastRun, newest_last_run

    for view in series_views(manifest, live):
        newest = _newest(view, gone)
        if newest is None:
            continue
        ok = view.name not in failed
        recorded = newest_last_run(stamper.current(s) for s in view.managed)
        this_run = recorded is not None and recorded.at >= started.replace(microsecond=0)
        if recorded is not None and recorded.ok == ok and (view.name not in acted or this_run):
            continue
        with contextlib.suppress(ApiNotFoundError):  # deleted meanwhile: the next run stamps
            await stamper.write(newest, {KEY_LAST_RUN: LastRun(now, ok).value()})


async def after_run(
    client: RunloopClient,
    manifest: Manifest,
    now: Callable[[], datetime],
    report: RetainReport,
    event: Callable[[dict[str, Any], str | None], None],
) -> None:
    """A real run's due verifications (a failure fails the run), then its last-run stamps."""
    if report.live is None:
        return
    stamper = Stamper(client)

    def say(text: str) -> None:
        event({"event": "probe", "message": text}, text)

    for v in await verify(stamper, manifest, report.live, now, say):
        report.verified.append(v)
        data = {"event": "verify", "series": v.series, "snapshot": v.snapshot, "ok": v.ok}
        data.update({"reason": v.reason, "output_tail": v.tail})
        text = f"snapshot.{v.series}: {v.snapshot} {'verified' if v.ok else 'failed to verify'}"
        event(data, f"{text} ({v.reason})")
        if not v.ok:
            tail = f"; output:\n{v.tail}" if v.tail else ""
            report.failed.append((f"verify snapshot.{v.series}", f"{v.snapshot}: {v.reason}{tail}"))
    acted, failed = _series_touched(report)
    started = report.started_at or now()
    gone = set(report.pruned)
    await stamp_last_runs(stamper, manifest, report.live, started, now(), acted, failed, gone)


def _series_touched(report: RetainReport) -> tuple[set[str], set[str]]:
    """The series this run acted on, and those it failed for."""
    rows = {r.snapshot_id: r.series for r in report.plan.retention} if report.plan else {}
    actions = {a.id: a.address for a in report.plan.actions} if report.plan else {}
    acted = {t.split("snapshot.", 1)[1] for t in report.taken}
    acted |= {rows[i] for i in (*report.pruned, *report.marked, *report.left) if i in rows}
    acted |= {v.series for v in report.verified}
    failed = set()
    for action_id, _ in report.failed:
        address = actions.get(action_id, action_id)
        if "snapshot." in address:
            failed.add(address.split("snapshot.", 1)[1])
    return acted, failed


async def metrics_after(client: RunloopClient, manifest: Manifest) -> str:
    """The metrics file's text, read after the run (so it shows the run's own stamps)."""
    from reconcile.commands.check import health_now
    from reconcile.monitoring import prometheus_text

    healths, now = await health_now(client, manifest, None)
    return prometheus_text(manifest.stack, healths, now)
