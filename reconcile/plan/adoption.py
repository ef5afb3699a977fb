"""Planning `import:` entries: adopt devboxes, a devbox's snapshots into a series, objects by
content; refuse what cannot be adopted. Pure.

Adoption writes rlstate's marks in place (one metadata update; the resource keeps its id).
Only what the API echoes is compared (image, launch parameters, name, metadata); env, setup
and mounts are not echoed, so the manifest's values become the baseline hashed into the marks.
An echoed difference that forces a replacement is planned as one, refused unless allowed.
Objects cannot be changed, so one is adopted only when its bytes are the manifest file's.
"""

from __future__ import annotations

from typing import Any

from reconcile.errors import AdoptionError
from reconcile.live.imports import import_entries
from reconcile.live.model import (
    KEY_ADOPTED,
    KEY_STACK,
    KEY_STATE,
    LiveDevbox,
    LiveObject,
    user_metadata,
)
from reconcile.plan.context import PlanContext
from reconcile.plan.desired import DesiredDevbox, DesiredObject, devbox_metadata, snapshot_metadata
from reconcile.plan.devboxes import _add_create, settle_state
from reconcile.plan.model import Change
from reconcile.plan.params import DevboxAdopt, SnapshotAdopt
from reconcile.plan.series import SeriesView

NOT_ECHOED = ("env", "mounts", "setup")
# manifest field → (launch_parameters key, the manifest's value as the API echoes it)
_LAUNCH: dict[str, tuple[str, Any]] = {
    "resource_size": ("resource_size_request", lambda s: s.resource_size),
    "architecture": ("architecture", lambda s: s.architecture),
    "keep_alive": (
        "keep_alive_time_seconds",
        lambda s: int(s.keep_alive.total_seconds()) if s.keep_alive else None,
    ),
    "launch_commands": ("launch_commands", lambda s: s.launch_commands),
    "idle": (
        "after_idle",
        lambda s: (
            {"idle_time_seconds": int(s.idle.after.total_seconds()), "on_idle": s.idle.action}
            if s.idle
            else None
        ),
    ),
}


def devbox_to_adopt(
    ctx: PlanContext, want: DesiredDevbox, owned: list[LiveDevbox]
) -> LiveDevbox | None:
    """The foreign devbox an `import:` entry adopts into `want`; None when there is no entry or
    it was adopted already. AdoptionError when it cannot be adopted (named owner, gone, …)."""
    entry = import_entries(ctx.loaded.manifest, "devbox").get(want.name)
    if entry is None or entry.id is None or any(b.id == entry.id for b in owned):
        return None
    where = f"import {want.address} ({entry.id})"
    box = ctx.live.imported.devboxes.get(entry.id)
    if box is None:
        raise AdoptionError(f"{where}: there is no such devbox in this account")
    if owned_here(ctx, where, box.metadata):
        raise AdoptionError(
            f"{where}: this stack already manages it as devbox.{box.logical_name}; "
            "use a `moved` entry to rename it"
        )
    mine = [b for b in owned if b.active]
    if mine:
        raise AdoptionError(
            f"{where}: {want.address} already exists ({mine[0].id}); remove the import or "
            "that devbox"
        )
    if not box.active:
        raise AdoptionError(f"{where}: it is {box.status}; only a live devbox can be adopted")
    return box


def plan_adopt_devbox(ctx: PlanContext, want: DesiredDevbox, box: LiveDevbox) -> None:
    """Adopt `box` in place, or replace it (refused unless allowed) when an echoed field
    that cannot change in place differs from the manifest."""
    ctx.desired[want.address] = {
        "spec": want.spec.model_dump(mode="json"),
        "spec_hash": want.spec_hash,
    }
    forcing, unread = echoed_differences(ctx, want, box)
    if forcing:
        forced = ", ".join(c.field for c in forcing)
        reasons = [f"forced by {forced}", f"adopting {box.id}, which rlstate did not create"]
        _add_create(ctx, want, reasons, old=box, changes=forcing)
        return
    meta = {**devbox_metadata(ctx.stack, want, ready=True), KEY_ADOPTED: "true"}
    changes = []
    if box.name != want.name:
        changes.append(Change("name", box.name, want.name))
    if user_metadata(box.metadata) != want.spec.metadata:
        changes.append(Change("metadata", user_metadata(box.metadata), want.spec.metadata))
    note = (
        f"not compared: {', '.join(unread)} (the API does not echo them); the manifest's "
        "values become the baseline"
    )
    action = ctx.add(
        "adopt",
        "devbox",
        want.address,
        reasons=[note],
        resource_id=box.id,
        changes=changes,
        params=DevboxAdopt(name=want.name, metadata=meta),
        action_id=f"adopt {want.address}",
    )
    ctx.devbox_ids[want.address] = box.id
    ctx.devbox_action[want.address] = action.id
    settle_state(ctx, want, box)


def echoed_differences(
    ctx: PlanContext, want: DesiredDevbox, box: LiveDevbox
) -> tuple[list[Change], list[str]]:
    """(replacement-forcing differences the API's answer shows, fields it cannot show)."""
    ignored = set(want.spec.lifecycle.ignore_changes)
    changes, unread = _image_difference(ctx, want, box)
    for name, (key, value_of) in _LAUNCH.items():
        wanted = value_of(want.spec)
        if wanted is None:
            continue
        if box.launch.get(key) is None:
            unread.append(name)
        elif box.launch[key] != wanted:
            changes.append(Change(name, box.launch[key], wanted, forces_replacement=True))
    unread.extend(NOT_ECHOED)
    return [c for c in changes if c.field not in ignored], unread


def _image_difference(
    ctx: PlanContext, want: DesiredDevbox, box: LiveDevbox
) -> tuple[list[Change], list[str]]:
    """The image source: the manifest's blueprint (name or id) or snapshot vs the devbox's."""
    spec = want.spec
    names = ctx.live.imported.blueprint_names
    live_blueprint = names.get(box.blueprint_id or "", box.blueprint_id)
    if want.source_series:
        return [], ["from_snapshot"]
    if spec.from_snapshot:
        if box.snapshot_id == spec.from_snapshot:
            return [], []
        return [Change("from_snapshot", box.snapshot_id, spec.from_snapshot, True)], []
    if spec.blueprint is None:
        if box.blueprint_id or box.snapshot_id:
            field = "blueprint" if box.blueprint_id else "from_snapshot"
            before = live_blueprint if box.blueprint_id else box.snapshot_id
            return [Change(field, before, None, True)], []
        return [], []
    if spec.blueprint in ctx.blueprint_ids:
        return _declared_difference(ctx, spec.blueprint, box, want.address), []
    if spec.blueprint.startswith("bpt_"):
        same = box.blueprint_id == spec.blueprint
        return ([] if same else [Change("blueprint", box.blueprint_id, spec.blueprint, True)]), []
    if box.blueprint_id and box.blueprint_id not in names:
        return [], ["blueprint"]
    if live_blueprint == spec.blueprint:
        return [], []
    return [Change("blueprint", live_blueprint, spec.blueprint, True)], []


def _declared_difference(
    ctx: PlanContext, name: str, box: LiveDevbox, address: str
) -> list[Change]:
    """A declared blueprint: the devbox started from the build this plan uses for it (made,
    reused or adopted), or from any build of the same definition hash."""
    using = ctx.blueprint_ids[name]
    if box.blueprint_id is not None and box.blueprint_id == using:
        return []
    build = next((b for b in ctx.live.blueprints if b.id == box.blueprint_id), None)
    wanted = ctx.desired.get(f"blueprint.{name}", {}).get("build_hash")
    if build is not None and build.build_hash is not None and build.build_hash == wanted:
        return []
    after = f"{name} ({'a new build' if using.startswith('${') else using})"
    imported = {i.id for i in import_entries(ctx.loaded.manifest, "blueprint").values()}
    if build is not None and build.build_hash is None and build.id not in imported:
        ctx.notes.append(
            f"{address} starts from {build.id}, which no "
            f"import entry names: if it is built as blueprint.{name} declares, add "
            f"`{{to: blueprint.{name}, id: {build.id}}}` to import: to use it as it is"
        )
    return [Change("blueprint", box.blueprint_id or box.snapshot_id, after, True)]


def plan_adopt_snapshots(ctx: PlanContext, view: SeriesView) -> None:
    """Stamp the series' marks on each snapshot an `import:` entry brings into it (its own
    metadata kept); say which snapshots of that devbox another stack owns and are left."""
    protect = view.spec.lifecycle.prevent_destroy
    for snap in sorted(view.adopting, key=lambda s: (s.create_time_ms, s.id)):
        meta = {**snap.metadata, **snapshot_metadata(ctx.stack, view.name, protect=protect)}
        meta[KEY_ADOPTED] = "true"
        if snap.status == "complete":
            meta[KEY_STATE] = "complete"
        ctx.add(
            "adopt",
            "snapshot",
            f"snapshot.{view.name}",
            resource_id=snap.id,
            params=SnapshotAdopt(series=view.name, metadata=meta, name=snap.name),
        )
    entry = import_entries(ctx.loaded.manifest, "snapshot").get(view.name)
    if entry is None or entry.devbox is None:
        return
    others = sorted(
        {
            s.metadata[KEY_STACK]
            for s in ctx.live.snapshots
            if s.source_devbox_id == entry.devbox
            and s.metadata.get(KEY_STACK) not in (None, ctx.stack)
        }
    )
    if others:
        ctx.notes.append(
            f"import snapshot.{view.name}: snapshots of {entry.devbox} that belong to stack "
            f"{', '.join(repr(o) for o in others)} are left to it"
        )


def owned_here(ctx: PlanContext, where: str, metadata: dict[str, str]) -> bool:
    """Whether the resource an import names (`where`) carries this stack's mark already.
    AdoptionError when it carries another stack's: a resource is managed by one stack only."""
    owner = metadata.get(KEY_STACK)
    if owner and owner != ctx.stack:
        raise AdoptionError(
            f"{where}: it belongs to stack {owner!r} (its rlstate.stack metadata), and a "
            "resource is managed by one stack only; drop this import"
        )
    return owner == ctx.stack


def object_to_adopt(ctx: PlanContext, want: DesiredObject) -> LiveObject | None:
    """The foreign object an `import:` entry adopts as `want` (its bytes are the manifest
    file's); None without an entry. AdoptionError saying why it cannot be adopted."""
    entry = import_entries(ctx.loaded.manifest, "object").get(want.name)
    if entry is None or entry.id is None:
        return None
    where = f"import {want.address} ({entry.id})"
    obj = ctx.live.imported.objects.get(entry.id)
    if obj is None:
        raise AdoptionError(f"{where}: there is no such object in this account")
    if owned_here(ctx, where, obj.metadata):
        return None
    why = _object_mismatch(ctx, want, obj)
    if why:
        raise AdoptionError(
            f"{where}: cannot be adopted: {why}; an object cannot be changed once made, so "
            "point the import at a matching object, or remove it (a new object is then made)"
        )
    path = ctx.loaded.manifest.objects[want.name].path
    ctx.notes.append(
        f"object.{want.name} is {obj.id}, adopted by content (its bytes hash as {path}); "
        "objects cannot carry rlstate's marks, so keep this import entry"
    )
    return obj


def _object_mismatch(ctx: PlanContext, want: DesiredObject, obj: LiveObject) -> str | None:
    if obj.state != "READ_ONLY":
        return f"its upload is not complete (state {obj.state})"
    sha = ctx.live.imported.object_sha256.get(obj.id, "")
    if sha != want.sha256:
        return f"its bytes hash to sha256 {sha[:12]}…, {want.path} to {want.sha256[:12]}…"
    if obj.content_type != want.content_type:
        return f"its content_type is {obj.content_type}, the manifest's {want.content_type}"
    if user_metadata(obj.metadata) != want.user_metadata:
        return "its metadata differs from the manifest's"
    return None
