"""Planning snapshots: a series' due snapshot, its prunes by `keep`, and the deletes of
snapshots no series names any more (or, for destroy, of all the stack's). Pure.

What devboxes are being restored from is the devbox planner's to say (`PlanContext.restores`);
this module only keeps those snapshots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconcile.live.model import DELETE_REFUSED_REASON, KEY_PROTECT, LiveSnapshot
from reconcile.plan.context import PlanContext
from reconcile.plan.desired import snapshot_metadata
from reconcile.plan.model import LeftBehind
from reconcile.plan.params import SnapshotTake
from reconcile.plan.prunes import (
    cost_note,
    guarded,
    prune_actions,
    retention_rows,
    verified_guard,
)
from reconcile.plan.series import SeriesView, decide_series, in_use, is_due, newest_complete
from reconcile.pruning import shrink_refusal
from reconcile.retention import format_duration

if TYPE_CHECKING:
    from reconcile.plan.desired import DesiredDevbox


def snapshot_take(
    stack: str,
    series: str,
    devbox: str,
    stamp: str,
    protect: bool,
    extra: dict[str, str] | None = None,
) -> SnapshotTake:
    """The params of one series snapshot named `SERIES-STAMP` (`extra`: more metadata)."""
    meta = {**snapshot_metadata(stack, series, protect=protect), **(extra or {})}
    return SnapshotTake(series=series, devbox=devbox, name=f"{series}-{stamp}", metadata=meta)


def resolve_series_sources(ctx: PlanContext, views: dict[str, SeriesView]) -> None:
    """Record each series' newest complete snapshot (what a restore from it uses)."""
    for name, view in views.items():
        newest = newest_complete(view.managed)
        ctx.desired[f"snapshot.{name}"] = {
            "devbox": view.spec.devbox,
            "newest_complete": newest.id if newest else None,
            "keep": view.spec.keep.model_dump(mode="json"),
        }


def planned_restores(ctx: PlanContext) -> dict[str, str]:
    """Snapshot id → why it must stay, for every devbox this plan creates from a snapshot."""
    return {snap: f"planned restore of {address}" for snap, address in ctx.restores.items()}


def plan_series_snapshot(
    ctx: PlanContext, view: SeriesView, source: DesiredDevbox | None
) -> str | None:
    """The id of the series' snapshot action, when one is due and its devbox can be named."""
    has_complete = newest_complete(view.managed) is not None
    if has_complete and not is_due(view, ctx.now):
        return None
    if any(s.status in ("in_progress", "unread") and not has_complete for s in view.managed):
        return None
    if source is not None:
        devbox_ref = ctx.devbox_ids.get(source.address)
        deps = [ctx.devbox_action[source.address]] if source.address in ctx.devbox_action else []
    else:
        devbox_ref, deps = view.devbox_id, []
    if devbox_ref is None:
        return None
    reason = (
        "series has no complete snapshot"
        if not has_complete
        else (f"due: every {view.spec.every and format_duration(view.spec.every)}")
    )
    stamp = ctx.now.strftime("%Y%m%dT%H%M%SZ")
    protect = view.spec.lifecycle.prevent_destroy
    action = ctx.add(
        "snapshot",
        "snapshot",
        f"snapshot.{view.name}",
        reasons=[reason],
        depends_on=deps,
        params=snapshot_take(ctx.stack, view.name, devbox_ref, stamp, protect),
        action_id=f"snapshot snapshot.{view.name}",
    )
    ctx.series_action[view.name] = action.id
    return action.id


def plan_prunes(
    ctx: PlanContext, view: SeriesView, snapshot_actions: list[str], restores: dict[str, str]
) -> None:
    """The series' retention rows, and a prune (after every snapshot of the run) for each
    snapshot `keep` lets go (a mark under `prune.grace`), unless the decision was refused. The
    shrink guard holds back a prune of more than `max_prune` of the series at once (a `keep`
    typo, a clock that jumped): no prune action, a refusal in the plan instead, unless
    `ctx.allow_shrink`; then a note says the guard was lifted. A keep change's cost is a note."""
    if not view.all:
        return
    protected = {**verified_guard(view), **restores, **in_use(ctx.live)}
    wanted = decide_series(view, ctx.now, protected)
    decision, shrink = guarded(view, wanted, ctx.allow_shrink)
    if shrink is not None:
        ctx.shrink_refused.append(shrink)
    elif ctx.allow_shrink:
        lifted = shrink_refusal(view.name, wanted, view.spec.max_prune)
        if lifted is not None:
            ctx.notes.append(lifted.allowed())
    cost = cost_note(view, wanted, held=shrink is not None)
    if cost is not None:
        ctx.notes.append(cost)
    steps = prune_actions(view, decision, ctx.now, frozenset())
    marks = {
        a.snapshot_id: getattr(a.params, "delete_after", "") for a in steps if a.kind == "mark"
    }
    managed = frozenset(s.id for s in view.managed)
    ctx.retention.extend(retention_rows(view, decision, managed, None, marks))
    for step in steps:
        ctx.add(
            step.kind,  # type: ignore[arg-type]
            "snapshot",
            f"snapshot.{view.name}",
            reasons=step.reasons,
            resource_id=step.snapshot_id,
            depends_on=snapshot_actions,
            params=step.params,
        )


def plan_orphan_snapshots(
    ctx: PlanContext, orphans: list[LiveSnapshot], needed: dict[str, str]
) -> None:
    """Delete the snapshots of series the manifest no longer names, after the devbox deletes,
    except those a devbox of the manifest is (or may again be) created from."""
    devbox_deletes = [a.id for a in ctx.actions if a.resource == "devbox" and a.kind == "delete"]
    for snap in sorted(orphans, key=lambda s: (s.create_time_ms, s.id)):
        if snap.id in needed:
            continue
        delete_snapshot(ctx, snap, "series not in manifest", devbox_deletes)


def delete_snapshot(
    ctx: PlanContext, snap: LiveSnapshot, reason: str, depends_on: list[str]
) -> None:
    """Delete one snapshot of the stack after `depends_on`; refused if it is protected."""
    address = f"snapshot.{snap.series or snap.id}"
    action = ctx.add(
        "delete",
        "snapshot",
        address,
        reasons=[reason],
        resource_id=snap.id,
        depends_on=depends_on,
    )
    if snap.metadata.get(KEY_PROTECT) == "true":
        ctx.refuse(action, f"{address} has prevent_destroy; deleting {snap.id} is refused")


def leave_refused(ctx: PlanContext, snaps: list[LiveSnapshot]) -> None:
    """Snapshots the plan would delete but the API refuses to (they ended in error)."""
    for snap in snaps:
        address = f"snapshot.{snap.series or snap.id}"
        ctx.left_behind.append(LeftBehind(address, snap.id, DELETE_REFUSED_REASON))
