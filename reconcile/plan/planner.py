"""build_plan(manifest, live, now) → Plan: the whole diff, ordered by dependencies. Pure.

Order of thought: objects and blueprints first (devboxes mount and start from them), then
devboxes and snapshot series in dependency order (a series needs its devbox; a restore needs
its series), then what the manifest no longer names, then the old objects that replaced ones
leave behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from reconcile.live.model import KEY_GROUP, KEY_STACK, LiveDevbox, LiveState
from reconcile.plan.adoption import devbox_to_adopt, plan_adopt_devbox, plan_adopt_snapshots
from reconcile.plan.blueprints import destroy_blueprints, plan_blueprints
from reconcile.plan.context import PlanContext
from reconcile.plan.desired import DesiredDevbox, desired_devboxes
from reconcile.plan.devboxes import delete_devbox, owned_devboxes, plan_devbox
from reconcile.plan.fingerprints import plan_fingerprints
from reconcile.plan.graph import check_acyclic, check_targets, with_dependencies
from reconcile.plan.model import Plan
from reconcile.plan.objects import plan_objects, plan_replaced_object_deletes
from reconcile.plan.series import (
    SeriesView,
    orphan_series_snapshots,
    refused_deletes,
    series_views,
)
from reconcile.plan.snapshots import (
    delete_snapshot,
    leave_refused,
    plan_orphan_snapshots,
    plan_prunes,
    plan_series_snapshot,
    planned_restores,
    resolve_series_sources,
)

if TYPE_CHECKING:
    from reconcile.manifest import LoadedManifest


def build_plan(
    loaded: LoadedManifest,
    live: LiveState,
    now: datetime,
    targets: tuple[str, ...] = (),
    *,
    allow_replace_adopted: bool = False,
    allow_shrink: bool = False,
) -> Plan:
    """Everything apply must do so that live matches the manifest, with reasons; a series'
    prune the shrink guard holds back (unless `allow_shrink`) is a refusal, not actions."""
    ctx = PlanContext(loaded=loaded, live=live, now=now)
    ctx.allow_replace_adopted = allow_replace_adopted
    ctx.allow_shrink = allow_shrink
    plan_objects(ctx)
    plan_blueprints(ctx)
    views = {v.name: v for v in series_views(loaded.manifest, live)}
    resolve_series_sources(ctx, views)
    tree = _Tree(ctx, desired_devboxes(loaded), owned_devboxes(ctx), views)
    for want in tree.wanted:
        tree.plan_devbox(want)
    for view in views.values():
        tree.plan_series(view)
    # Prunes come after every restore is planned, so none prunes a snapshot a restore uses.
    restores = planned_restores(ctx)
    # A run whose own snapshot failed prunes nothing (manifest contract): every prune waits
    # for every series snapshot of the run, and is skipped if any of them fails.
    snapshots = sorted(ctx.series_action.values())
    for view in views.values():
        plan_prunes(ctx, view, snapshots, restores)
    desired_names = {w.name for w in tree.wanted}
    for name, boxes in tree.owned.items():
        if name not in desired_names:
            for box in boxes:
                if box.active:
                    delete_devbox(ctx, box, f"devbox.{name}", _why_gone(loaded, box))
    named = {w.source_snapshot: f"from_snapshot of {w.address}" for w in tree.wanted}
    keep = {**{k: v for k, v in named.items() if k}, **restores}
    plan_orphan_snapshots(ctx, orphan_series_snapshots(loaded.manifest, live), keep)
    leave_refused(
        ctx, [s for s in refused_deletes(live) if s.series not in loaded.manifest.snapshots]
    )
    plan_replaced_object_deletes(ctx)
    return _finish(ctx, targets)


def _why_gone(loaded: LoadedManifest, box: LiveDevbox) -> str:
    """ "not in manifest", or which `replicas` count left a replica out."""
    group = loaded.manifest.devboxes.get(box.metadata.get(KEY_GROUP) or "")
    if group is not None and group.replicas is not None:
        return f"beyond replicas: {group.replicas}"
    return "not in manifest"


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
        owned = self.owned.get(want.name, [])
        foreign = devbox_to_adopt(self.ctx, want, owned)
        if foreign is not None:
            plan_adopt_devbox(self.ctx, want, foreign)
        else:
            plan_devbox(self.ctx, want, owned)

    def plan_series(self, view: SeriesView) -> None:
        key = f"series:{view.name}"
        if key in self.done:
            return
        self.done.add(key)
        source = next((w for w in self.wanted if w.name == view.spec.devbox), None)
        if source is not None:
            self.plan_devbox(source)
        plan_series_snapshot(self.ctx, view, source)
        plan_adopt_snapshots(self.ctx, view)


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
            delete_snapshot(ctx, snap, "destroy", devbox_deletes)
    leave_refused(ctx, refused_deletes(live))
    destroy_blueprints(ctx, [a.id for a in ctx.actions])
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
        check_targets(actions, targets, _declared(ctx))
        actions = with_dependencies(actions, targets)
    check_acyclic(actions)
    kept = {a.id for a in actions}
    shrink = [r for r in ctx.shrink_refused if not targets or _targeted(r.series, targets)]
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
        notes=tuple(ctx.notes),
        shrink_refused=tuple(shrink),
        allow_shrink=ctx.allow_shrink,
    )


def _declared(ctx: PlanContext) -> list[str]:
    """Every address the manifest declares, a replica group by its name (`devbox.worker`)."""
    m = ctx.loaded.manifest
    groups: dict[str, list[str]] = {
        "object": list(m.objects),
        "devbox": list(m.devboxes),
        "snapshot": list(m.snapshots),
        "blueprint": list(m.blueprints),
    }
    return [f"{kind}.{name}" for kind, names in groups.items() for name in names]


def _targeted(series: str, targets: tuple[str, ...]) -> bool:
    """Whether `--target` names the series (its prunes would be in the plan)."""
    return any(t in (series, f"snapshot.{series}") for t in targets)
