"""What the nightly `retain` run must do per snapshot series: which are due, what to prune. Pure.

`retain` touches only snapshots: a due series gets one new snapshot (of its live devbox), then
each series is pruned by `keep`, with the same protections as `apply` (in progress, newest
complete, in use by a live devbox of the stack, unreadable status → refuse). An error snapshot
whose delete the API refused (marked `rlstate.delete_refused`) is left alone, not pruned again.

Statuses: the snapshot list carries none, so `due_statuses_needed` names the few a "due?"
answer depends on, and `prune_statuses_needed` names every unread one of the series: only
complete snapshots count toward `keep`, so an unread one that is in fact `error` would take a
rule's place and push out a snapshot the rule keeps. A decision is only made on read statuses.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from reconcile.live.model import KEY_LAST_RUN, LiveState
from reconcile.manifest.schema import Manifest
from reconcile.plan.model import Action, Plan, RetentionRow
from reconcile.plan.prunes import guarded, prune_actions, retention_rows, verified_guard
from reconcile.plan.series import (
    SeriesView,
    in_use,
    is_due,
    newest_complete,
    policy_of,
    series_views,
    to_record,
)
from reconcile.plan.snapshots import snapshot_take
from reconcile.pruning import ShrinkRefusal
from reconcile.retention import LEFT_REASON, RetentionDecision, SnapshotRecord, decide_retention
from reconcile.stamps import LastRun, keep_stamp

if TYPE_CHECKING:
    from reconcile.manifest import LoadedManifest

NEW_SNAPSHOT = "(new)"


@dataclass(frozen=True)
class SnapshotJob:
    """A snapshot a due series needs now, or why it cannot be taken."""

    series: str
    devbox_id: str | None
    reason: str
    blocked: str | None = None


@dataclass(frozen=True)
class SeriesPrune:
    """The retention decision for one series, and which snapshots rlstate took."""

    series: str
    decision: RetentionDecision
    managed: frozenset[str]
    view: SeriesView
    shrink: ShrinkRefusal | None = None


def due_statuses_needed(manifest: Manifest, live: LiveState) -> frozenset[str]:
    """Unread statuses a "due?" answer depends on: per series, newest first, each snapshot
    rlstate took down to the first complete one (newer ones in progress hold a snapshot off)."""
    needed: set[str] = set()
    for view in series_views(manifest, live):
        for snap in sorted(view.managed, key=lambda s: (s.create_time_ms, s.id), reverse=True):
            if snap.status == "unread":
                needed.add(snap.id)
                break
            if snap.status == "complete":
                break
    return frozenset(needed)


def prune_statuses_needed(manifest: Manifest, live: LiveState) -> frozenset[str]:
    """Every unread status of every series: each one can change what `keep` keeps."""
    return frozenset(
        s.id for view in series_views(manifest, live) for s in view.all if s.status == "unread"
    )


def due_jobs(manifest: Manifest, live: LiveState, now: datetime) -> list[SnapshotJob]:
    """One job per series whose `every` (or lack of any complete snapshot) says one is due."""
    jobs = []
    for view in series_views(manifest, live):
        if not is_due(view, now):
            continue
        newest = newest_complete(view.managed)
        reason = "series has no complete snapshot" if newest is None else "due by `every`"
        blocked = None if view.devbox_id else f"devbox {view.spec.devbox} is not running"
        jobs.append(SnapshotJob(view.name, view.devbox_id, reason, blocked))
    return jobs


def _decide(
    view: SeriesView, now: datetime, protected: dict[str, str], extra: bool
) -> RetentionDecision:
    records = [to_record(s) for s in view.all]
    if extra:
        records.append(SnapshotRecord(id=NEW_SNAPSHOT, created=now, status="complete"))
    return decide_retention(records, policy_of(view.spec), now, view.protected(protected))


def prune_decisions(
    manifest: Manifest,
    live: LiveState,
    now: datetime,
    *,
    assume_new: frozenset[str] = frozenset(),
    allow_shrink: bool = False,
) -> list[SeriesPrune]:
    """Each series' keep/remove decision, after the shrink guard (unless `allow_shrink`);
    `assume_new` series count a snapshot taken now (what a real run would have after its due
    snapshot — used by --dry-run). The newest verified snapshot is protected."""
    in_use_now = in_use(live)
    out = []
    for view in series_views(manifest, live):
        extra = view.name in assume_new
        protected = {**verified_guard(view), **in_use_now}
        decision, shrink = guarded(view, _decide(view, now, protected, extra), allow_shrink)
        managed = {s.id for s in view.managed} | ({NEW_SNAPSHOT} if extra else set())
        out.append(SeriesPrune(view.name, decision, frozenset(managed), view, shrink))
    return out


def snapshot_plan(manifest: Manifest, jobs: list[SnapshotJob], base: Plan, now: datetime) -> Plan:
    """A plan of the due snapshots (one `snapshot` action per runnable job); each carries the
    series' `keep` and this run's last-run stamp ("ok": a failure is stamped over it)."""
    stamp = base.created_at[:19].replace("-", "").replace(":", "") + "Z"
    actions = []
    for job in jobs:
        if job.blocked or job.devbox_id is None:
            continue
        spec = manifest.snapshots[job.series]
        protect = spec.lifecycle.prevent_destroy
        # Written in the create call, so a night that goes well costs no stamp request.
        extra = {**keep_stamp(policy_of(spec)), KEY_LAST_RUN: LastRun(now, True).value()}
        actions.append(
            Action(
                id=f"snapshot snapshot.{job.series}",
                kind="snapshot",
                resource="snapshot",
                address=f"snapshot.{job.series}",
                reasons=(job.reason,),
                params=snapshot_take(
                    manifest.stack, job.series, job.devbox_id, stamp, protect, extra
                ),
            )
        )
    return _with_actions(base, tuple(actions), ())


def prune_plan(
    prunes: list[SeriesPrune], held: Mapping[str, str], base: Plan, now: datetime
) -> Plan:
    """A plan of the prunes (or, under a grace period, marks); none for a series in `held`
    (series → why, e.g. its snapshot failed: its rows say kept, with that reason) or whose
    decision was refused."""
    actions = []
    rows: list[RetentionRow] = []
    skip = frozenset({NEW_SNAPSHOT})
    for item in prunes:
        held_why = held.get(item.series)
        steps = [] if held_why is not None else prune_actions(item.view, item.decision, now, skip)
        marks = {
            a.snapshot_id: getattr(a.params, "delete_after", "") for a in steps if a.kind == "mark"
        }
        rows.extend(retention_rows(item.view, item.decision, item.managed, held_why, marks))
        for step in steps:
            actions.append(
                Action(
                    id=f"{step.kind} {step.snapshot_id}",
                    kind=step.kind,  # type: ignore[arg-type]
                    resource="snapshot",
                    address=f"snapshot.{item.series}",
                    reasons=step.reasons,
                    resource_id=step.snapshot_id,
                    params=step.params,
                )
            )
    return _with_actions(base, tuple(actions), tuple(rows))


def _with_actions(base: Plan, actions: tuple[Action, ...], rows: tuple[RetentionRow, ...]) -> Plan:
    return Plan(
        stack=base.stack,
        manifest_path=base.manifest_path,
        manifest_sha256=base.manifest_sha256,
        created_at=base.created_at,
        actions=actions,
        retention=rows,
        api_url=base.api_url,
    )


@dataclass(frozen=True)
class RetainInputs:
    """What one `retain` run starts from: the manifest, and the API its plans are made on."""

    loaded: LoadedManifest
    api_url: str

    @property
    def manifest(self) -> Manifest:
        return self.loaded.manifest

    def base_plan(self, now: datetime) -> Plan:
        """An empty plan with the run's header; both phases' plans start from it."""
        return Plan(
            stack=self.manifest.stack,
            manifest_path=str(self.loaded.path),
            manifest_sha256=self.loaded.sha256,
            created_at=now.isoformat(),
            api_url=self.api_url,
        )


def mark_unpruned(plan: Plan, still: Mapping[str, str], left: Collection[str]) -> Plan:
    """Rows whose prune failed or did not run (snapshot id → why) say kept, and why; rows whose
    prune the API refused for good (an error snapshot) say left."""

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
