"""build_plan(manifest, live, now) → Plan: the whole diff, ordered by dependencies. Pure.

Order of thought: objects first (devboxes mount them), then devboxes and snapshot series in
dependency order (a series needs its devbox; a restore needs its series), then what the manifest
no longer names, then the old objects that replaced ones leave behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from reconcile.live.model import (
    DELETE_REFUSED_REASON,
    KEY_GROUP,
    KEY_PROTECT,
    KEY_STACK,
    LiveDevbox,
    LiveSnapshot,
    LiveState,
)
from reconcile.plan.context import PlanContext
from reconcile.plan.desired import DesiredDevbox, desired_devboxes, snapshot_metadata
from reconcile.plan.devboxes import delete_devbox, owned_devboxes, plan_devbox
from reconcile.plan.fingerprints import plan_fingerprints
from reconcile.plan.graph import check_acyclic, with_dependencies
from reconcile.plan.model import LeftBehind, Plan, RetentionRow
from reconcile.plan.objects import plan_objects, plan_replaced_object_deletes
from reconcile.plan.series import (
    SeriesView,
    decide_series,
    in_use,
    is_due,
    newest_complete,
    orphan_series_snapshots,
    refused_deletes,
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
    views = {v.name: v for v in series_views(loaded.manifest, live)}
    _resolve_series_sources(ctx, views)
    tree = _Tree(ctx, desired_devboxes(loaded), owned_devboxes(ctx), views)
    for want in tree.wanted:
        tree.plan_devbox(want)
    for view in views.values():
        tree.plan_series(view)
    # Prunes come after every restore is planned, so none prunes a snapshot a restore uses.
    restores = _planned_restores(ctx)
    # A run whose own snapshot failed prunes nothing (manifest contract): every prune waits
    # for every series snapshot of the run, and is skipped if any of them fails.
    snapshots = sorted(ctx.series_action.values())
    for view in views.values():
        _plan_prunes(ctx, view, snapshots, restores)
    desired_names = {w.name for w in tree.wanted}
    for name, boxes in tree.owned.items():
        if name not in desired_names:
            for box in boxes:
                if box.active:
                    delete_devbox(ctx, box, f"devbox.{name}", _why_gone(loaded, box))
    named = {w.source_snapshot: f"from_snapshot of {w.address}" for w in tree.wanted}
    keep = {**{k: v for k, v in named.items() if k}, **restores}
    _plan_orphan_snapshots(ctx, orphan_series_snapshots(loaded.manifest, live), keep)
    _leave(ctx, [s for s in refused_deletes(live) if s.series not in loaded.manifest.snapshots])
    plan_replaced_object_deletes(ctx)
    return _finish(ctx, targets)


def _why_gone(loaded: LoadedManifest, box: LiveDevbox) -> str:
    """ "not in manifest", or which `replicas` count left a replica out."""
    group = loaded.manifest.devboxes.get(box.metadata.get(KEY_GROUP) or "")
    if group is not None and group.replicas is not None:
        return f"beyond replicas: {group.replicas}"
    return "not in manifest"


def _resolve_series_sources(ctx: PlanContext, views: dict[str, SeriesView]) -> None:
    for name, view in views.items():
        newest = newest_complete(view.managed)
        ctx.desired[f"snapshot.{name}"] = {
            "devbox": view.spec.devbox,
            "newest_complete": newest.id if newest else None,
            "keep": view.spec.keep.model_dump(mode="json"),
        }


@dataclass
class _Tree:
    """Plans devboxes and series in dependency order: a restore after the series it is
    restored from, a series after the devbox it snapshots (however deep the chain)."""

    ctx: PlanContext
    wanted: list[DesiredDevbox]
    owned: dict[str, list[LiveDevbox]]
    views: dict[str, SeriesView]
    done: set[str] = field(default_factory=set)

    def plan_devbox(self, want: DesiredDevbox) -> None:
        if want.address in self.done:
            return
        self.done.add(want.address)
        if want.source_series and want.source_series in self.views:
            self.plan_series(self.views[want.source_series])
        plan_devbox(self.ctx, want, self.owned.get(want.name, []))

    def plan_series(self, view: SeriesView) -> None:
        key = f"series:{view.name}"
        if key in self.done:
            return
        self.done.add(key)
        source = next((w for w in self.wanted if w.name == view.spec.devbox), None)
        if source is not None:
            self.plan_devbox(source)
        _plan_series_snapshot(self.ctx, view, source)


def _planned_restores(ctx: PlanContext) -> dict[str, str]:
    """Snapshot id → why it must stay, for every devbox this plan creates from a snapshot."""
    protected: dict[str, str] = {}
    for action in ctx.actions:
        snap_id = action.params.get("body", {}).get("snapshot_id")
        if action.resource == "devbox" and snap_id and not snap_id.startswith("${"):
            protected.setdefault(snap_id, f"planned restore of {action.address}")
    return protected


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


def _plan_prunes(
    ctx: PlanContext, view: SeriesView, snapshot_actions: list[str], restores: dict[str, str]
) -> None:
    if not view.all:
        return
    protected = {**restores, **in_use(ctx.live)}
    decision = decide_series(view, ctx.now, protected)
    managed = {s.id for s in view.managed}
    live_status = {s.id: s.status for s in view.all}
    for verdict in decision.verdicts:
        snap = verdict.snapshot
        ctx.retention.append(
            RetentionRow(
                series=view.name,
                snapshot_id=snap.id,
                created=snap.created.isoformat(),
                status=live_status.get(snap.id, snap.status),
                keep=verdict.keep,
                reasons=verdict.reasons,
                size_bytes=snap.size_bytes,
                managed=snap.id in managed,
                left=verdict.left,
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
            depends_on=snapshot_actions,
        )


def _plan_orphan_snapshots(
    ctx: PlanContext, orphans: list[LiveSnapshot], needed: dict[str, str]
) -> None:
    devbox_deletes = [a.id for a in ctx.actions if a.resource == "devbox" and a.kind == "delete"]
    for snap in sorted(orphans, key=lambda s: (s.create_time_ms, s.id)):
        if snap.id in needed:
            continue  # a devbox of the manifest is (or may again be) created from it
        _delete_snapshot(ctx, snap, "series not in manifest", devbox_deletes)


def _delete_snapshot(
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


def build_destroy_plan(loaded: LoadedManifest, live: LiveState, now: datetime) -> Plan:
    """Delete every resource of the stack, devboxes first, then snapshots, then objects."""
    ctx = PlanContext(loaded=loaded, live=live, now=now)
    for name, boxes in owned_devboxes(ctx).items():
        for box in boxes:
            if box.active:
                delete_devbox(ctx, box, f"devbox.{name}", "destroy")
    devbox_deletes = [a.id for a in ctx.actions]
    for snap in live.snapshots:
        mine = snap.metadata.get(KEY_STACK) == live.stack
        if mine and snap.status != "deleted" and not snap.delete_refused:
            _delete_snapshot(ctx, snap, "destroy", devbox_deletes)
    _leave(ctx, refused_deletes(live))
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


def _leave(ctx: PlanContext, snaps: list[LiveSnapshot]) -> None:
    """Snapshots the plan would delete but the API refuses to (they ended in error)."""
    for snap in snaps:
        address = f"snapshot.{snap.series or snap.id}"
        ctx.left_behind.append(LeftBehind(address, snap.id, DELETE_REFUSED_REASON))


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
        left_behind=tuple(ctx.left_behind),
    )
