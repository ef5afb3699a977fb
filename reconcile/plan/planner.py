"""build_plan(manifest, live, now) → Plan: the whole diff, ordered by dependencies. Pure.

Order of thought: objects first (devboxes mount them), then devboxes and snapshot series in
dependency order (a series needs its devbox; a restore needs its series), then what the manifest
no longer names, then the old objects that replaced ones leave behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from reconcile.live.model import KEY_PROTECT, KEY_STACK, LiveDevbox, LiveSnapshot, LiveState
from reconcile.plan.context import PlanContext
from reconcile.plan.desired import DesiredDevbox, desired_devboxes, snapshot_metadata
from reconcile.plan.devboxes import delete_devbox, owned_devboxes, plan_devbox
from reconcile.plan.fingerprints import plan_fingerprints
from reconcile.plan.graph import check_acyclic, with_dependencies
from reconcile.plan.model import Plan, RetentionRow
from reconcile.plan.objects import plan_objects, plan_replaced_object_deletes
from reconcile.plan.series import (
    SeriesView,
    decide_series,
    in_use,
    is_due,
    newest_complete,
    orphan_series_snapshots,
    series_views,
)

if TYPE_CHECKING:
    from reconcile.manifest import LoadedManifest


def build_plan(
    loaded: LoadedManifest, live: LiveState, now: datetime, targets: tuple[str, ...] = ()
) -> Plan:
    """Everything apply must do so that live matches the manifest, with reasons."""
    ctx = PlanContext(loaded=loaded, live=live, now=now)
    plan_objects(ctx)
    owned = owned_devboxes(ctx)
    wanted = desired_devboxes(loaded)
    views = {v.name: v for v in series_views(loaded.manifest, live)}
    _resolve_series_sources(ctx, views)
    done: set[str] = set()
    for want in wanted:
        _plan_devbox_tree(ctx, want, wanted, owned, views, done)
    for name in views:
        _plan_series(ctx, views[name], wanted, done)
    desired_names = {w.name for w in wanted}
    for name, boxes in owned.items():
        if name not in desired_names:
            for box in boxes:
                if box.active:
                    delete_devbox(ctx, box, f"devbox.{name}", "not in manifest")
    _plan_orphan_snapshots(ctx, orphan_series_snapshots(loaded.manifest, live))
    plan_replaced_object_deletes(ctx)
    return _finish(ctx, targets)


def _resolve_series_sources(ctx: PlanContext, views: dict[str, SeriesView]) -> None:
    for name, view in views.items():
        newest = newest_complete(view.managed)
        ctx.desired[f"snapshot.{name}"] = {
            "devbox": view.spec.devbox,
            "newest_complete": newest.id if newest else None,
            "keep": view.spec.keep.model_dump(mode="json"),
        }


def _plan_devbox_tree(
    ctx: PlanContext,
    want: DesiredDevbox,
    wanted: list[DesiredDevbox],
    owned: dict[str, list[LiveDevbox]],
    views: dict[str, SeriesView],
    done: set[str],
) -> None:
    """Plan a devbox after the series (and so the devbox) it is restored from."""
    if want.address in done:
        return
    done.add(want.address)
    if want.source_series and want.source_series in views:
        _plan_series(ctx, views[want.source_series], wanted, done, owned)
    plan_devbox(ctx, want, owned.get(want.name, []))


def _plan_series(
    ctx: PlanContext,
    view: SeriesView,
    wanted: list[DesiredDevbox],
    done: set[str],
    owned: dict[str, list[LiveDevbox]] | None = None,
) -> None:
    key = f"series:{view.name}"
    if key in done:
        return
    done.add(key)
    source = next((w for w in wanted if w.name == view.spec.devbox), None)
    if source is not None and owned is not None:
        _plan_devbox_tree(ctx, source, wanted, owned, {}, done)
    snapshot_action = _plan_series_snapshot(ctx, view, source)
    _plan_prunes(ctx, view, snapshot_action)


def _plan_series_snapshot(
    ctx: PlanContext, view: SeriesView, source: DesiredDevbox | None
) -> str | None:
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
        else (f"due: every {view.spec.every and _fmt(view.spec.every.total_seconds())}")
    )
    stamp = ctx.now.strftime("%Y%m%dT%H%M%SZ")
    meta = snapshot_metadata(ctx.stack, view.name, protect=view.spec.lifecycle.prevent_destroy)
    action = ctx.add(
        "snapshot",
        "snapshot",
        f"snapshot.{view.name}",
        reasons=[reason],
        depends_on=deps,
        params={
            "series": view.name,
            "devbox": devbox_ref,
            "name": f"{view.name}-{stamp}",
            "metadata": meta,
        },
        action_id=f"snapshot snapshot.{view.name}",
    )
    ctx.series_action[view.name] = action.id
    return action.id


def _fmt(seconds: float) -> str:
    from datetime import timedelta

    from reconcile.manifest.schema import format_duration

    return format_duration(timedelta(seconds=seconds))


def _plan_prunes(ctx: PlanContext, view: SeriesView, snapshot_action: str | None) -> None:
    protected = dict(in_use(ctx.live))
    for action in ctx.actions:
        snap_id = action.params.get("body", {}).get("snapshot_id")
        if action.kind in ("restore", "replace") and snap_id and not snap_id.startswith("${"):
            protected.setdefault(snap_id, f"planned restore of {action.address}")
    if not view.all:
        return
    decision = decide_series(view, ctx.now, protected)
    managed = {s.id for s in view.managed}
    for verdict in decision.verdicts:
        snap = verdict.snapshot
        ctx.retention.append(
            RetentionRow(
                series=view.name,
                snapshot_id=snap.id,
                created=snap.created.isoformat(),
                status=snap.status,
                keep=verdict.keep,
                reasons=verdict.reasons,
                size_bytes=snap.size_bytes,
                managed=snap.id in managed,
            )
        )
    if decision.refused is not None:
        return
    for verdict in decision.to_delete:
        ctx.add(
            "prune",
            "snapshot",
            f"snapshot.{view.name}",
            reasons=verdict.reasons,
            resource_id=verdict.snapshot.id,
            depends_on=[snapshot_action] if snapshot_action else [],
        )


def _plan_orphan_snapshots(ctx: PlanContext, orphans: list[LiveSnapshot]) -> None:
    devbox_deletes = [a.id for a in ctx.actions if a.resource == "devbox" and a.kind == "delete"]
    for snap in sorted(orphans, key=lambda s: (s.create_time_ms, s.id)):
        address = f"snapshot.{snap.series or snap.id}"
        action = ctx.add(
            "delete",
            "snapshot",
            address,
            reasons=["series not in manifest"],
            resource_id=snap.id,
            depends_on=devbox_deletes,
        )
        if snap.metadata.get(KEY_PROTECT) == "true":
            ctx.refuse(action, f"{address} has prevent_destroy; deleting {snap.id} is refused")


def build_destroy_plan(loaded: LoadedManifest, live: LiveState, now: datetime) -> Plan:
    """Delete every resource of the stack, devboxes first, then snapshots, then objects."""
    ctx = PlanContext(loaded=loaded, live=live, now=now)
    for name, boxes in owned_devboxes(ctx).items():
        for box in boxes:
            if box.active:
                delete_devbox(ctx, box, f"devbox.{name}", "destroy")
    devbox_deletes = [a.id for a in ctx.actions]
    for snap in live.snapshots:
        if snap.metadata.get(KEY_STACK) == live.stack and snap.status != "deleted":
            address = f"snapshot.{snap.series or snap.id}"
            action = ctx.add(
                "delete",
                "snapshot",
                address,
                reasons=["destroy"],
                resource_id=snap.id,
                depends_on=devbox_deletes,
            )
            if snap.metadata.get(KEY_PROTECT) == "true":
                ctx.refuse(action, f"{address} has prevent_destroy; deleting it is refused")
    for obj in live.objects:
        if obj.metadata.get(KEY_STACK) == live.stack and obj.state != "DELETED":
            ctx.add(
                "delete",
                "object",
                f"object.{obj.logical_name or obj.id}",
                reasons=["destroy"],
                resource_id=obj.id,
                depends_on=devbox_deletes,
            )
    return _finish(ctx, ())


def _finish(ctx: PlanContext, targets: tuple[str, ...]) -> Plan:
    actions = tuple(ctx.actions)
    if targets:
        actions = with_dependencies(actions, targets)
    check_acyclic(actions)
    kept = {a.id for a in actions}
    return Plan(
        stack=ctx.stack,
        manifest_path=str(ctx.loaded.path),
        manifest_sha256=ctx.loaded.sha256,
        created_at=ctx.now.isoformat(),
        actions=actions,
        refusals=tuple(r for r in ctx.refusals if r.action_id in kept),
        desired=ctx.desired,
        fingerprints=plan_fingerprints(ctx.live, ctx.touched),
        retention=tuple(ctx.retention),
        api_url=ctx.live.api_url,
        targets=targets,
    )
