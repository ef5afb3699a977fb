"""`retain`'s two-phase run: take the due snapshots, list again, then prune by `keep`.

It does the I/O (discovery, the executor) and records what happened in a RetainReport. It
decides nothing (what is due and what to prune come from `reconcile.plan.retain_plan`) and prints
nothing: a listener hears of each action as it is planned (--dry-run) or run, and
`reconcile.render` words the report. A series whose due snapshot failed is not pruned that night.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from reconcile.apply.events import ActionEvent, Event
from reconcile.apply.executor import apply_plan
from reconcile.apply.stamps import stamp_complete
from reconcile.live.discovery import StatusesNeeded, list_stack, read_needed_statuses
from reconcile.plan import retain_plan as r
from reconcile.plan.model import Action, Plan
from reconcile.plan.params import SnapshotTake

if TYPE_CHECKING:
    from reconcile.api import RunloopClient
    from reconcile.live.model import LiveState
    from reconcile.plan.retain_plan import RetainInputs, SeriesPrune
    from reconcile.verification import Verified

Clock = Callable[[], datetime]
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
    marked: list[str] = field(default_factory=list)  # scheduled for deletion (prune.grace)
    plan: Plan | None = None
    requests: int = 0
    throttled: int = 0
    peak_concurrency: int = 0
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    allow_shrink: bool = False
    live: LiveState | None = None  # as last listed (for the last-run stamps)
    started_at: datetime | None = None  # the API's time when the run began deciding
    verified: list[Verified] = field(default_factory=list)
    metrics: str | None = None

    @property
    def kept(self) -> int:
        if not self.plan:
            return 0
        return sum(1 for r in self.plan.retention if r.keep and not r.left and not r.scheduled)

    @property
    def scheduled(self) -> int:
        """Rows marked for deletion (this run's marks and earlier ones not yet due)."""
        return sum(1 for r in self.plan.retention if r.scheduled) if self.plan else 0

    @property
    def left_in_place(self) -> int:
        """Rows left in place: error snapshots the API refuses to delete (this run's or older)."""
        return sum(1 for r in self.plan.retention if r.left) if self.plan else 0

    @property
    def changed(self) -> bool:
        done = self.taken or self.pruned or self.marked or self.left or self.verified
        return bool(done or self.failed or self.refused)

    @property
    def result(self) -> str:
        return "error" if self.error else "failed" if self.failed else "ok"

    @property
    def elapsed_s(self) -> float:
        return round(time.monotonic() - self.started, 3)


class RetainListener(Protocol):
    """Hears of each action as --dry-run plans it, or as the executor runs it."""

    def planned(self, action: Action) -> None: ...

    def ran(self, event: Event, action: Action | None) -> None:
        """An executor event, with the action it is about (None when it names none)."""


async def run_retain(
    client: RunloopClient,
    inputs: RetainInputs,
    clock: Clock,
    dry_run: bool,
    listener: RetainListener,
    report: RetainReport,
) -> None:
    """Both phases; `report` holds what happened so far, also when a step raises."""
    run = _Run(client, inputs, dry_run, listener, report)
    try:
        await run.both_phases(clock)
    finally:
        report.requests = client.stats.total
        report.throttled = client.limit.totals.throttled
        report.peak_concurrency = client.limit.totals.peak


class _Run:
    """One run's client, listener and report; `left` holds the ids of actions whose delete the
    API refused (error snapshots)."""

    def __init__(
        self,
        client: RunloopClient,
        inputs: RetainInputs,
        dry_run: bool,
        listener: RetainListener,
        report: RetainReport,
    ) -> None:
        self.client, self.manifest, self.inputs = client, inputs.manifest, inputs
        self.dry_run, self.listener, self.report = dry_run, listener, report
        self.left: set[str] = set()

    async def both_phases(self, clock: Clock) -> None:
        manifest = self.manifest
        live = await self.discover(lambda lv: r.due_statuses_needed(manifest, lv))
        now = clock()  # the API's time once it has answered (see `run_retain`)
        self.report.started_at = now
        base = self.inputs.base_plan(now)
        held, assume, took = await self.take_snapshots(live, now, base)
        needed: StatusesNeeded = lambda lv: r.prune_statuses_needed(manifest, lv)  # noqa: E731
        if took and not self.dry_run:  # list again: new snapshots, complete or failed
            now = clock()
            live = await self.discover(needed)
        else:
            live = await read_needed_statuses(self.client, live, needed)
        await self.prune(live, now, base, held, assume)
        if not self.dry_run:  # what is kept and was read complete needs no read next night
            done = {*self.report.pruned, *self.report.left, *self.report.marked}
            await stamp_complete(self.client, live, done)  # a mark's write already replaced the map

    async def discover(self, needed: StatusesNeeded) -> LiveState:
        """The stack as listed now, with the statuses `needed` names."""
        live = await list_stack(self.client, self.manifest)
        return await read_needed_statuses(self.client, live, needed)

    async def take_snapshots(
        self, live: LiveState, now: datetime, base: Plan
    ) -> tuple[dict[str, str], frozenset[str], bool]:
        """Phase one: the due snapshots. Returns the series not to prune (→ why), the series a
        dry run assumes a new snapshot of, and whether there was any snapshot to take."""
        manifest, report = self.manifest, self.report
        jobs = r.due_jobs(manifest, live, now)
        blocked = [(j.series, j.blocked) for j in jobs if j.blocked is not None]
        report.failed.extend((f"snapshot snapshot.{name}", why) for name, why in blocked)
        held = {name: HELD for name, _ in blocked}
        shots = r.snapshot_plan(manifest, jobs, base, now)
        assume: frozenset[str] = frozenset()
        if self.dry_run:
            self.announce(shots)
            report.taken = [a.id for a in shots.actions]
            assume = frozenset(a.params_as(SnapshotTake).series for a in shots.actions)
        else:
            report.taken, failed = await self.execute(shots)
            report.failed.extend(failed)
            if failed:  # the manifest's rule: a run whose own snapshot failed prunes nothing
                lost = {shots.action(i).params_as(SnapshotTake).series for i, _ in failed}
                held.update({n: HELD if n in lost else HELD_OTHER for n in manifest.snapshots})
        return held, assume, bool(shots.actions)

    async def prune(
        self,
        live: LiveState,
        now: datetime,
        base: Plan,
        held: dict[str, str],
        assume: frozenset[str],
    ) -> None:
        """Phase two: prune each series by `keep`, but none in `held`."""
        report = self.report
        report.live = live
        report.prunes = r.prune_decisions(
            self.manifest, live, now, assume_new=assume, allow_shrink=report.allow_shrink
        )
        report.refused = [
            f"snapshot.{p.series}: {p.decision.refused}"
            for p in report.prunes
            if p.decision.refused and p.shrink is None
        ]
        report.failed.extend(
            (f"prune snapshot.{p.series}", p.shrink.message()) for p in report.prunes if p.shrink
        )
        pruning = r.prune_plan(report.prunes, held, base, now)
        report.plan = pruning
        marks = {a.id for a in pruning.actions if a.kind == "mark"}
        if self.dry_run:
            self.announce(pruning)
            report.pruned = [a.resource_id or "" for a in pruning.actions if a.id not in marks]
            report.marked = [a.resource_id or "" for a in pruning.actions if a.id in marks]
            return
        done, failed = await self.execute(pruning)
        snapshot_of = {a.id: a.resource_id or "" for a in pruning.actions}  # Plan.action is linear
        report.pruned = [snapshot_of[i] for i in done if i not in self.left and i not in marks]
        report.marked = [snapshot_of[i] for i in done if i in marks]
        report.left = [snapshot_of[i] for i in done if i in self.left]
        report.failed.extend(failed)
        still = {snapshot_of[i]: why for i, why in failed}
        report.plan = r.mark_unpruned(pruning, still, report.left)

    def announce(self, plan: Plan) -> None:
        for action in plan.actions:
            self.listener.planned(action)

    async def execute(self, plan: Plan) -> tuple[list[str], list[tuple[str, str]]]:
        """Runs `plan` through the executor: ids done, and (id, why) failed or skipped."""
        if not plan.actions:
            return [], []
        by_id = {a.id: a for a in plan.actions}

        def emit(event: Event) -> None:
            action = by_id.get(event.id) if isinstance(event, ActionEvent) else None
            self.listener.ran(event, action)

        result = await apply_plan(plan, self.client, emit=emit)
        self.left.update(action_id for action_id, _ in result.left_behind)
        return list(result.done), [*result.failed, *result.skipped]
