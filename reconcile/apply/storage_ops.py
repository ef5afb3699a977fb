"""Operations on storage objects and disk snapshots: create/upload, delete, take, prune.

Each is safe to interrupt: creates are made exactly once (token lookup), deletes of what is
already gone count as done. It decides nothing about which objects or snapshots to touch.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from reconcile.api import StorageObject
from reconcile.api.retry import NO_RETRY
from reconcile.apply.context import Done, OpContext, name_of
from reconcile.apply.exactly_once import new_token
from reconcile.apply.placeholders import result_key
from reconcile.errors import (
    ApiBadRequestError,
    ApiConflictError,
    ApiError,
    ApiNotFoundError,
    OperationError,
    SnapshotFailedError,
)
from reconcile.live.model import DELETE_REFUSED_REASON, KEY_DELETE_REFUSED, KEY_STATE, KEY_TOKEN
from reconcile.plan.params import ObjectCreate, SnapshotMark, SnapshotTake

ORPHAN_ROUNDS = 3
HAS_DISK = ("running", "suspended")  # the statuses a devbox can be snapshotted in
SETTLING = frozenset({"provisioning", "initializing", "resuming", "queued", "suspending"})


def _read_checked(path: str, sha256: str | None) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise OperationError(f"cannot read {path}: {error.strerror or error}") from None
    found = hashlib.sha256(data).hexdigest()
    if sha256 and found != sha256:
        raise OperationError(
            f"{path} changed since the plan was made (sha256 {found[:12]}…, planned "
            f"{sha256[:12]}…); run plan again"
        )
    return data


async def _find_object(ctx: OpContext, name: str, token: str) -> StorageObject | None:
    for obj in await ctx.client.list_objects(name=name):
        if obj.metadata.get(KEY_TOKEN) == token and obj.state != "DELETED":
            return obj
    return None


async def _create_object(ctx: OpContext, data: bytes) -> StorageObject:
    """A new object in UPLOADING with its upload URL (an orphan found by token is deleted,
    since only the create answer carries the URL)."""
    p = ctx.params_as(ObjectCreate)
    for _round in range(ORPHAN_ROUNDS):
        token = new_token()
        metadata = {**dict(p.metadata), KEY_TOKEN: token}

        async def create(token: str = token, metadata: dict[str, str] = metadata) -> StorageObject:
            return await ctx.client.create_object(
                name=p.name,
                content_type=p.content_type or "unspecified",
                metadata=metadata,
                ttl_ms=p.ttl_ms,
                request_id=token,
                retry=NO_RETRY,
            )

        async def find(token: str = token) -> StorageObject | None:
            return await _find_object(ctx, p.name, token)

        obj = await ctx.create_once(create, find)
        if obj.upload_url is not None or obj.state != "UPLOADING":
            return obj
        await _delete_object_quietly(ctx, obj.id)
    raise OperationError(f"could not create object {p.name!r}: every create was lost in transit")


async def create_object(ctx: OpContext) -> Done:
    """object create / replace: create, upload the bytes, complete."""
    p = ctx.params_as(ObjectCreate)
    data = _read_checked(p.file, p.sha256)
    obj = await _create_object(ctx, data)
    if obj.state == "UPLOADING":
        assert obj.upload_url is not None
        ctx.report(f"uploading {len(data)} bytes to object {obj.id}")
        await ctx.client.upload_object_bytes(obj.upload_url, data, obj.upload_headers)
        try:
            obj = await ctx.client.complete_object(obj.id)
        except ApiConflictError:
            obj = await ctx.client.get_object(obj.id)
            if obj.state != "READ_ONLY":
                raise
    verb = "replaced" if ctx.action.kind == "replace" else "created"
    return Done(
        f"{ctx.address} has been {verb} ({obj.id}, {len(data)} bytes)",
        {result_key("object", name_of(ctx.address)): obj.id},
    )


async def _delete_object_quietly(ctx: OpContext, object_id: str) -> None:
    with contextlib.suppress(ApiNotFoundError):
        await ctx.client.delete_object(object_id)


async def delete_object(ctx: OpContext) -> Done:
    await _delete_object_quietly(ctx, ctx.resource_id)
    return Done(f"{ctx.address} ({ctx.resource_id}) has been deleted")


async def take_snapshot(
    ctx: OpContext, devbox_id: str, name: str | None, metadata: dict[str, str]
) -> str:
    """The id of a complete disk snapshot of `devbox_id`; SnapshotFailedError on `error`."""
    token = new_token()
    tagged = {**metadata, KEY_TOKEN: token}

    async def create() -> str:
        snap = await ctx.client.snapshot_disk_async(
            devbox_id, name=name, metadata=tagged, request_id=token, retry=NO_RETRY
        )
        return snap.id

    async def find() -> str | None:
        found = await ctx.client.list_snapshots(metadata={KEY_TOKEN: token})
        return found[0].id if found else None

    try:
        snapshot_id = await ctx.create_once(create, find)
    except (ApiBadRequestError, ApiConflictError):
        if not await await_disk(ctx, devbox_id):
            raise
        # refused while it booted or suspended; now it can
        snapshot_id = await ctx.create_once(create, find)
    ctx.report(f"snapshot {snapshot_id} of devbox {devbox_id} in_progress")
    status = await ctx.client.wait_for_snapshot(snapshot_id, timeout=ctx.timeouts.snapshot)
    if status.status != "complete":
        why = f": {status.error_message}" if status.error_message else ""
        raise SnapshotFailedError(
            f"snapshot {snapshot_id} of devbox {devbox_id} ended in {status.status}{why}"
        )
    await _mark_complete(ctx, snapshot_id, name, tagged)
    return snapshot_id


async def await_disk(ctx: OpContext, devbox_id: str) -> bool:
    """After the API refused to snapshot a devbox: waits while it boots or suspends (e.g. one a
    killed run left booting, which the server is still starting); True when it then has a disk
    to snapshot (running or suspended), False when it ended (failure, shutdown)."""
    view = await ctx.client.get_devbox(devbox_id)
    if view.status in SETTLING:
        ctx.report(f"devbox {devbox_id} is {view.status}; waiting to snapshot it")
        view = await ctx.client.wait_for_devbox_status(
            devbox_id, HAS_DISK, timeout=ctx.timeouts.devbox_ready
        )
    return view.status in HAS_DISK


async def _mark_complete(
    ctx: OpContext, snapshot_id: str, name: str | None, metadata: dict[str, str]
) -> None:
    """Record in the snapshot's metadata that it completed, so later runs need not ask (its
    name, given when it was taken, goes with it so that the update cannot clear it).

    Only an optimisation: if the update fails, discovery reads the status instead.
    """
    stamped = {**metadata, KEY_STATE: "complete"}
    with contextlib.suppress(ApiError):
        await ctx.client.update_snapshot(snapshot_id, name=name, metadata=stamped)


async def snapshot(ctx: OpContext) -> Done:
    """snapshot snapshot: take one for a series and record it as `snapshot:SERIES`."""
    p = ctx.params_as(SnapshotTake)
    snapshot_id = await take_snapshot(ctx, p.devbox, p.name, dict(p.metadata))
    return Done(
        f"{ctx.address}: snapshot {snapshot_id} has been taken",
        {result_key("snapshot", p.series): snapshot_id},
    )


async def mark_snapshot(ctx: OpContext) -> Done:
    """snapshot mark: a prune under a grace period writes `rlstate.delete_after` (the planned
    metadata, which keeps every key the snapshot had) instead of deleting."""
    p = ctx.params_as(SnapshotMark)
    await ctx.client.update_snapshot(ctx.resource_id, name=p.name, metadata=p.metadata)
    return Done(
        f"{ctx.address}: snapshot {ctx.resource_id} scheduled for deletion at {p.delete_after}"
    )


async def delete_snapshot(ctx: OpContext) -> Done:
    """snapshot prune / delete; a snapshot already gone counts as done, and so does one that
    ended in error which the API refuses to delete (409): it is left in place and marked."""
    try:
        await ctx.client.delete_snapshot(ctx.resource_id)
    except ApiNotFoundError:
        pass
    except ApiConflictError as refused:
        return await _refused_delete(ctx, refused)
    verb = "pruned" if ctx.action.kind == "prune" else "deleted"
    return Done(f"{ctx.address}: snapshot {ctx.resource_id} has been {verb}")


async def _refused_delete(ctx: OpContext, refused: ApiConflictError) -> Done:
    """The API refused the delete. The real API keeps snapshots that ended in error (only
    complete ones can be deleted): such a one is left, with `rlstate.delete_refused` on its
    metadata so that plans stop asking to delete it (best effort). Any other 409 fails."""
    try:
        status = await ctx.client.get_snapshot_status(ctx.resource_id)
    except ApiError:
        raise refused from None
    if status.status != "error":
        raise refused
    message = (
        f"{ctx.address}: snapshot {ctx.resource_id} ended in error and the API keeps snapshots "
        "that ended in error, so it was left in place"
    )
    try:
        if status.snapshot is None:
            raise OperationError("the status answer did not include the snapshot's metadata")
        marked = {**status.snapshot.metadata, KEY_DELETE_REFUSED: "error"}
        name = status.snapshot.name
        await ctx.client.update_snapshot(ctx.resource_id, name=name, metadata=marked)
    except (ApiError, OperationError) as error:
        message += f"; recording that on it failed ({' '.join(str(error).split())})"
    return Done(message, left_behind=DELETE_REFUSED_REASON)
