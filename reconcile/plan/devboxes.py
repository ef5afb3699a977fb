"""Planning devboxes: create, restore, update in place, replace (and say why), suspend/resume,
recreate after failure, and delete what the manifest no longer names. Pure.
"""

from __future__ import annotations

from reconcile.live.model import (
    KEY_ADOPTED,
    KEY_FIELDS,
    KEY_GROUP,
    KEY_KIND,
    KEY_NAME,
    KEY_PROTECT,
    KEY_READY,
    KEY_SOURCE,
    KEY_SPEC,
    KEY_STACK,
    LiveDevbox,
    user_metadata,
)
from reconcile.plan.context import PlanContext
from reconcile.plan.desired import (
    DesiredDevbox,
    decode_fields,
    devbox_create_body,
    devbox_metadata,
    digest,
    encode_fields,
    snapshot_metadata,
)
from reconcile.plan.model import Action, ActionKind, Change
from reconcile.plan.params import (
    DevboxCreate,
    DevboxDelete,
    DevboxReplace,
    DevboxUpdate,
    FinalSnapshot,
)


def owned_devboxes(ctx: PlanContext) -> dict[str, list[LiveDevbox]]:
    """The stack's devboxes by logical name (after `moved`), newest first."""
    moved = {
        m.from_.split(".", 1)[1]: m.to.split(".", 1)[1]
        for m in ctx.loaded.manifest.moved
        if m.from_.startswith("devbox.")
    }
    by_name: dict[str, list[LiveDevbox]] = {}
    for box in ctx.live.devboxes:
        if box.metadata.get(KEY_STACK) != ctx.stack:
            continue
        name = box.logical_name or ""
        by_name.setdefault(moved.get(name, name), []).append(box)
    for group in by_name.values():
        group.sort(key=lambda d: (d.active, d.create_time_ms, d.id), reverse=True)
    return by_name


def _forcing_changes(want: DesiredDevbox, box: LiveDevbox) -> list[Change]:
    live_fields = decode_fields(box.metadata.get(KEY_FIELDS))
    ignored = set(want.spec.lifecycle.ignore_changes)
    return [
        Change(name, live_fields.get(name), value, forces_replacement=True)
        for name, value in want.fields.items()
        if live_fields.get(name) != value and name not in ignored
    ]


def _final_snapshot(ctx: PlanContext, group: str, box: LiveDevbox) -> FinalSnapshot | None:
    """The final snapshot to take before destroying a devbox with snapshot_before_destroy.

    It joins the devbox's series (whose retention prunes it) only when the devbox finished its
    setup: a devbox whose setup never succeeded is no source for restores from the series."""
    spec = ctx.loaded.manifest.devboxes.get(group)
    if spec is None or not spec.lifecycle.snapshot_before_destroy:
        return None
    series = next((n for n, s in ctx.loaded.manifest.snapshots.items() if s.devbox == group), None)
    if series is None or box.metadata.get(KEY_READY) != "true":
        # No series to join: a snapshot of no series, which plans leave alone (destroy
        # deletes it).
        name = f"{group}-final"
        meta = {KEY_STACK: ctx.stack, KEY_KIND: "snapshot", KEY_NAME: name}
        return FinalSnapshot(series=None, name=name, metadata=meta)
    protect = ctx.loaded.manifest.snapshots[series].lifecycle.prevent_destroy
    meta = snapshot_metadata(ctx.stack, series, protect=protect)
    return FinalSnapshot(series=series, name=f"{series}-final", metadata=meta)


def _create_params(ctx: PlanContext, want: DesiredDevbox, snapshot_id: str | None) -> DevboxCreate:
    ready_now = not want.spec.setup
    body = devbox_create_body(ctx.loaded, want, ctx.object_ids, snapshot_id)
    if not snapshot_id and want.spec.blueprint in ctx.blueprint_ids:
        body.pop("blueprint_name", None)  # a declared blueprint: the build this plan uses
        body["blueprint_id"] = ctx.blueprint_ids[want.spec.blueprint]
    body["metadata"] = devbox_metadata(ctx.stack, want, ready=ready_now)
    if snapshot_id:
        body["metadata"][KEY_SOURCE] = snapshot_id
    ready_meta = None if ready_now else {**body["metadata"], KEY_READY: "true"}
    return DevboxCreate(
        body=body,
        setup=tuple(want.spec.setup),
        state=want.spec.state,
        ready_metadata=ready_meta,
    )


def _record_uses(
    ctx: PlanContext, want: DesiredDevbox, action: Action, snapshot_id: str | None
) -> None:
    """What later steps must know of a devbox being created: the snapshot it is restored from
    (kept from pruning) and the objects it mounts (whose replaced copies wait for it)."""
    if snapshot_id and not snapshot_id.startswith("${"):
        ctx.restores.setdefault(snapshot_id, want.address)
    for mount in want.spec.mounts:
        object_id = ctx.object_ids.get(mount.object, mount.object)
        ctx.mounted_by.setdefault(object_id, []).append(action.id)


def _source(ctx: PlanContext, want: DesiredDevbox) -> tuple[str | None, list[str], list[str]]:
    """(snapshot id or placeholder, dependencies, reasons) for a devbox being created."""
    if want.source_snapshot:
        return want.source_snapshot, [], [f"from snapshot {want.source_snapshot}"]
    if not want.source_series:
        return None, [], []
    series = want.source_series
    resolved = ctx.desired.get(f"snapshot.{series}", {}).get("newest_complete")
    if resolved:
        return resolved, [], [f"from snapshot.{series} ({resolved})"]
    dep = ctx.series_action.get(series)
    return (
        f"${{snapshot:{series}}}",
        [dep] if dep else [],
        [f"from snapshot.{series} (after its first snapshot)"],
    )


def _mount_deps(ctx: PlanContext, want: DesiredDevbox) -> list[str]:
    return [ctx.object_action[m.object] for m in want.spec.mounts if m.object in ctx.object_action]


def _add_create(
    ctx: PlanContext,
    want: DesiredDevbox,
    reasons: list[str],
    old: LiveDevbox | None = None,
    changes: list[Change] | None = None,
) -> Action:
    snapshot_id, deps, source_reasons = _source(ctx, want)
    params = _create_params(ctx, want, snapshot_id)
    deps += _mount_deps(ctx, want)
    deps.append(ctx.blueprint_action.get(want.spec.blueprint or "", ""))
    kind: ActionKind
    if old is not None:
        final = _final_snapshot(ctx, want.group, old)
        params = DevboxReplace(**vars(params), old_id=old.id, final_snapshot=final)
        kind = "replace"
    else:
        kind = "restore" if snapshot_id else "create"
    action = ctx.add(
        kind,
        "devbox",
        want.address,
        reasons=reasons + source_reasons,
        resource_id=old.id if old else None,
        depends_on=deps,
        changes=changes or [],
        params=params,
        action_id=f"{kind} {want.address}",
    )
    ctx.devbox_action[want.address] = action.id
    ctx.devbox_ids[want.address] = f"${{devbox:{want.address}}}"
    _record_uses(ctx, want, action, snapshot_id)
    # The manifest decides for a devbox it names (so prevent_destroy can be turned off);
    # the live mark is for devboxes it no longer names (see delete_devbox).
    if old is not None and want.protected:
        ctx.refuse(action, f"{want.address} has prevent_destroy; replacing it is refused")
    if old is not None and not_created_here(ctx, old) and not ctx.allow_replace_adopted:
        ctx.refuse(
            action,
            f"{want.address} ({old.id}) was adopted, not created by rlstate, and replacing it "
            "destroys it; pass --allow-replace-adopted, or make the manifest match it",
        )
    return action


def not_created_here(ctx: PlanContext, box: LiveDevbox) -> bool:
    """The devbox was adopted (or is being adopted) rather than created by this stack."""
    return box.metadata.get(KEY_STACK) != ctx.stack or box.metadata.get(KEY_ADOPTED) == "true"


def _kept_metadata(ctx: PlanContext, want: DesiredDevbox, box: LiveDevbox) -> dict[str, str]:
    """The metadata an in-place update writes. Ignored fields keep the live devbox's hashes:
    it still runs with those values, and dropping `ignore_changes` later must show the diff."""
    meta = devbox_metadata(ctx.stack, want, ready=True)
    for kept in (KEY_SOURCE, KEY_ADOPTED):
        if box.metadata.get(kept):
            meta[kept] = box.metadata[kept]
    live_fields = decode_fields(box.metadata.get(KEY_FIELDS))
    ignored = set(want.spec.lifecycle.ignore_changes) & set(live_fields)
    if ignored:
        fields = {**want.fields, **{name: live_fields[name] for name in ignored}}
        meta[KEY_FIELDS] = encode_fields(fields)
        meta[KEY_SPEC] = digest(fields, 16)
    return meta


def _in_place(ctx: PlanContext, want: DesiredDevbox, box: LiveDevbox) -> None:
    """Update name/metadata, and suspend or resume, on a devbox that needs no replacement."""
    ctx.devbox_ids[want.address] = box.id
    desired_meta = _kept_metadata(ctx, want, box)
    changes = []
    if box.name != want.name:
        changes.append(Change("name", box.name, want.name))
    if user_metadata(box.metadata) != user_metadata(desired_meta):
        changes.append(Change("metadata", user_metadata(box.metadata), want.spec.metadata))
    if box.metadata.get(KEY_NAME) != want.name:
        changes.append(Change("moved", box.metadata.get(KEY_NAME), want.name))
    if box.metadata.get(KEY_PROTECT) != desired_meta.get(KEY_PROTECT):
        changes.append(
            Change("prevent_destroy", box.metadata.get(KEY_PROTECT) == "true", want.protected)
        )
    if changes:
        reasons = (
            [f"moved from devbox.{box.metadata.get(KEY_NAME)}"]
            if any(c.field == "moved" for c in changes)
            else ["name or metadata changed"]
        )
        ctx.add(
            "update",
            "devbox",
            want.address,
            reasons=reasons,
            resource_id=box.id,
            changes=changes,
            params=DevboxUpdate(name=want.name, metadata=desired_meta),
        )
    settle_state(ctx, want, box)


def settle_state(ctx: PlanContext, want: DesiredDevbox, box: LiveDevbox) -> None:
    """Suspend or resume a kept devbox so that its status matches the manifest's `state`."""
    # What else uses the devbox (its series' snapshot) waits for the state change, so a
    # snapshot never meets a devbox that is suspending or resuming.
    if want.spec.state == "suspended" and box.status in ("running", "resuming"):
        action = ctx.add(
            "suspend", "devbox", want.address, reasons=["state: suspended"], resource_id=box.id
        )
        ctx.devbox_action[want.address] = action.id
    elif want.spec.state == "running" and box.status in ("suspended", "suspending"):
        action = ctx.add(
            "resume", "devbox", want.address, reasons=["state: running"], resource_id=box.id
        )
        ctx.devbox_action[want.address] = action.id


def plan_devbox(ctx: PlanContext, want: DesiredDevbox, live: list[LiveDevbox]) -> None:
    """Decide one devbox address; `live` holds this address's devboxes, best candidate first."""
    ctx.desired[want.address] = {
        "spec": want.spec.model_dump(mode="json"),
        "spec_hash": want.spec_hash,
    }
    active = [b for b in live if b.active]
    if not active:
        reasons = ["not yet created"]
        if live:
            reasons = [f"recreate: {live[0].id} is in {live[0].status}"]
        _add_create(ctx, want, reasons)
        return
    ready = [b for b in active if b.metadata.get(KEY_READY) == "true"]
    best = (ready or active)[0]
    for extra in active:
        if extra is not best:
            delete_devbox(ctx, extra, want.address, "duplicate of " + best.id)
    changes = _forcing_changes(want, best)
    if best.metadata.get(KEY_READY) != "true":
        _add_create(ctx, want, ["setup did not finish"], old=best)
    elif changes:
        forced = ", ".join(c.field for c in changes)
        _add_create(ctx, want, [f"forced by {forced}"], old=best, changes=changes)
    else:
        _in_place(ctx, want, best)


def delete_devbox(ctx: PlanContext, box: LiveDevbox, address: str, reason: str) -> None:
    group = box.metadata.get(KEY_GROUP) or box.logical_name or ""
    action = ctx.add(
        "delete",
        "devbox",
        address,
        reasons=[reason],
        resource_id=box.id,
        params=DevboxDelete(final_snapshot=_final_snapshot(ctx, group, box)),
    )
    manifest_spec = ctx.loaded.manifest.devboxes.get(group)
    protected = box.metadata.get(KEY_PROTECT) == "true" or bool(
        manifest_spec and manifest_spec.lifecycle.prevent_destroy
    )
    if protected:
        ctx.refuse(action, f"{address} has prevent_destroy; deleting it is refused")
