"""Planning storage objects: create, replace by content hash, delete leftovers. Pure.

Objects cannot be changed after create, so any difference (content, type, ttl, metadata) means
a new object; the old one is deleted by a separate action once nothing planned needs it.
"""

from __future__ import annotations

from reconcile.live.model import KEY_SHA256, KEY_SPEC, KEY_STACK, LiveObject
from reconcile.plan.adoption import object_to_adopt
from reconcile.plan.context import PlanContext
from reconcile.plan.desired import DesiredObject, desired_objects, object_metadata
from reconcile.plan.params import ObjectCreate, ObjectReplace


def _owned_objects(ctx: PlanContext) -> dict[str, list[LiveObject]]:
    by_name: dict[str, list[LiveObject]] = {}
    for obj in ctx.live.objects:
        if obj.metadata.get(KEY_STACK) != ctx.stack or obj.state == "DELETED":
            continue
        by_name.setdefault(obj.logical_name or "", []).append(obj)
    for group in by_name.values():
        group.sort(key=lambda o: (o.create_time_ms, o.id), reverse=True)
    return by_name


def _moved_names(ctx: PlanContext) -> dict[str, str]:
    """Old object name → new name, from `moved` entries (the live object keeps its marks)."""
    return {
        m.from_.split(".", 1)[1]: m.to.split(".", 1)[1]
        for m in ctx.loaded.manifest.moved
        if m.from_.startswith("object.") and m.to.startswith("object.")
    }


def _why_replace(live: list[LiveObject], want: DesiredObject) -> tuple[str, str]:
    """(field, reason) for the newest live object that does not match."""
    newest = live[0]
    if newest.state != "READ_ONLY":
        return "state", f"upload of {newest.id} did not finish ({newest.state})"
    if newest.metadata.get(KEY_SHA256) != want.sha256:
        return "content", "file content changed"
    if newest.content_type != want.content_type:
        return "content_type", f"content_type {newest.content_type} → {want.content_type}"
    return "spec", "ttl or metadata changed"


def plan_objects(ctx: PlanContext) -> None:
    """Add object actions to the plan and record each object's id (live or placeholder)."""
    owned = _owned_objects(ctx)
    for old, new in _moved_names(ctx).items():
        owned.setdefault(new, []).extend(owned.pop(old, []))
    for want in desired_objects(ctx.loaded):
        live = owned.pop(want.name, [])
        ctx.desired[want.address] = {
            "name": want.name,
            "sha256": want.sha256,
            "content_type": want.content_type,
            "size": want.size,
        }
        good = [
            o for o in live if o.state == "READ_ONLY" and o.metadata.get(KEY_SPEC) == want.spec_hash
        ]
        if good:
            ctx.object_ids[want.name] = good[0].id
            _delete_leftovers(ctx, want, [o for o in live if o is not good[0]], "duplicate")
            continue
        adopted = object_to_adopt(ctx, want)
        if adopted is not None:
            ctx.object_ids[want.name] = adopted.id
            _delete_leftovers(ctx, want, live, f"{want.address} is now {adopted.id} (adopted)")
            continue
        _create_object(ctx, want, live)
    # An object the manifest no longer declares but a devbox still mounts by its obj_ id stays.
    by_id = {m.object for d in ctx.loaded.manifest.devboxes.values() for m in d.mounts}
    for name, leftovers in owned.items():
        gone = [o for o in leftovers if o.id not in by_id]
        _delete_leftovers(ctx, None, gone, "not in manifest", address=f"object.{name}")


def _create_object(ctx: PlanContext, want: DesiredObject, live: list[LiveObject]) -> None:
    params = ObjectCreate(
        name=want.name,
        content_type=want.content_type,
        metadata=object_metadata(ctx.stack, want),
        ttl_ms=want.ttl_ms,
        file=want.path,
        sha256=want.sha256,
        size=want.size,
    )
    if not live:
        action = ctx.add(
            "create", "object", want.address, reasons=["not yet created"], params=params
        )
    else:
        field, reason = _why_replace(live, want)
        action = ctx.add(
            "replace",
            "object",
            want.address,
            reasons=[f"forced by {field}", reason],
            params=ObjectReplace(**vars(params), old_id=live[0].id),
            action_id=f"replace {want.address}",
        )
        ctx.replaced_objects[want.name] = [o.id for o in live]
    ctx.object_action[want.name] = action.id
    ctx.object_ids[want.name] = f"${{object:{want.name}}}"


def _delete_leftovers(
    ctx: PlanContext,
    want: DesiredObject | None,
    leftovers: list[LiveObject],
    reason: str,
    *,
    address: str | None = None,
) -> None:
    for obj in leftovers:
        why = reason if obj.state == "READ_ONLY" else f"upload did not finish ({obj.state})"
        ctx.add(
            "delete",
            "object",
            address or (want.address if want else f"object.{obj.name}"),
            reasons=[why],
            resource_id=obj.id,
        )


def plan_replaced_object_deletes(ctx: PlanContext) -> None:
    """Delete the old objects of replaced ones, after every devbox action that mounts them."""
    if not ctx.replaced_objects:
        return
    for name, old_ids in ctx.replaced_objects.items():
        needs = [ctx.object_action[name], *ctx.mounted_by.get(ctx.object_ids[name], [])]
        for old in old_ids:
            ctx.add(
                "delete",
                "object",
                f"object.{name}",
                resource_id=old,
                reasons=["replaced by a new object"],
                depends_on=needs,
            )
