"""A series' prune as plan actions and retention rows, shared by `plan`/`apply` and `retain`. Pure.

On top of the retention decision: the newest verified snapshot is protected; the shrink guard
may refuse the prune; under `prune.grace` a prune becomes a `mark` action (the snapshot's
metadata with `rlstate.delete_after`), and a marked snapshot past its time a `prune`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from reconcile.live.model import LiveSnapshot, format_time
from reconcile.plan.model import RetentionRow
from reconcile.plan.params import ActionParams, NoParams, SnapshotMark
from reconcile.plan.series import SeriesView, policy_of
from reconcile.pruning import PruneStep, ShrinkRefusal, guard_shrink, prune_cost, prune_steps
from reconcile.retention import RetentionDecision, scheduled_reason
from reconcile.stamps import keep_of, verified_at, with_mark
from reconcile.verification import NEWEST_VERIFIED, Candidate, newest_verified


def verified_guard(view: SeriesView) -> dict[str, str]:
    """The series' newest verified snapshot → "newest verified" (never pruned)."""
    found = newest_verified(
        Candidate(s.id, s.created, s.status == "complete", s.delete_after is not None, t)
        for s in view.all
        if (t := verified_at(s.metadata)) is not None
    )
    return {found.id: NEWEST_VERIFIED} if found else {}


def guarded(
    view: SeriesView, decision: RetentionDecision, allow_shrink: bool
) -> tuple[RetentionDecision, ShrinkRefusal | None]:
    """The decision the shrink guard lets through, and its refusal if it refused."""
    return guard_shrink(view.name, decision, view.spec.max_prune, allow_shrink)


@dataclass(frozen=True)
class PruneAction:
    """One prune or mark a plan holds for a snapshot of a series."""

    kind: str  # "prune" or "mark"
    snapshot_id: str
    reasons: tuple[str, ...]
    params: ActionParams


def prune_actions(
    view: SeriesView, decision: RetentionDecision, now: datetime, skip: frozenset[str]
) -> list[PruneAction]:
    """Actions carrying out `decision` (none for ids in `skip`, e.g. a snapshot not taken yet)."""
    listed = {s.id: s for s in view.all}
    out = []
    for step in prune_steps(decision, view.spec.prune.grace, now):
        if step.snapshot_id in skip:
            continue
        out.append(_action(step, listed.get(step.snapshot_id)))
    return out


def _action(step: PruneStep, snap: LiveSnapshot | None) -> PruneAction:
    if step.kind == "mark" and step.delete_after is not None:
        when = format_time(step.delete_after)
        metadata = snap.metadata if snap is not None else {}
        name = snap.name if snap is not None else None
        params = SnapshotMark(when, with_mark(metadata, step.delete_after), name)
        reasons = (*step.reasons, f"grace: kept until {when}")
        return PruneAction("mark", step.snapshot_id, reasons, params)
    return PruneAction("prune", step.snapshot_id, step.reasons, NoParams())


def retention_rows(
    view: SeriesView,
    decision: RetentionDecision,
    managed: frozenset[str],
    held: str | None,
    marks: Mapping[str, str],
) -> list[RetentionRow]:
    """The table rows of one series; `held` (why it is not pruned) keeps them all; `marks`:
    snapshot id → the time this plan schedules its deletion for."""
    status_of = {s.id: s.status for s in view.all}
    rows = []
    for verdict in decision.verdicts:
        snap = verdict.snapshot
        keep, reasons = verdict.keep, verdict.reasons
        scheduled = format_time(verdict.scheduled) if verdict.scheduled else None
        if held is not None and not keep and snap.status != "deleted":
            keep, reasons = True, (*reasons, held)
        elif snap.id in marks:
            keep, scheduled = True, marks[snap.id]
            reasons = (*reasons, scheduled_reason(datetime.fromisoformat(scheduled)))
        rows.append(
            RetentionRow(
                series=view.name,
                snapshot_id=snap.id,
                created=snap.created.isoformat(),
                status=status_of.get(snap.id, snap.status),
                keep=keep,
                reasons=reasons,
                size_bytes=snap.size_bytes,
                managed=snap.id in managed,
                left=verdict.left,
                scheduled=scheduled,
            )
        )
    return rows


def cost_note(view: SeriesView, decision: RetentionDecision, held: bool = False) -> str | None:
    """ "keep change prunes 37 snapshots (12.4 GiB) of snapshot.nightly" when the series' newest
    snapshot was taken under another `keep` ("would prune" when `held`: the shrink guard stopped
    it); None when `keep` did not change or nothing is pruned."""
    stamped = [s for s in view.managed if keep_of(s.metadata) is not None]
    newest = max(stamped, key=lambda s: (s.create_time_ms, s.id), default=None)
    before = keep_of(newest.metadata) if newest is not None else None
    if before is None or before == policy_of(view.spec):
        return None
    return prune_cost(view.name, decision, keep_changed=True, stopped=held)
