"""Reads the live state a plan needs, with as few requests as the API allows; changes nothing.

One paged list per kind (limit 5,000; snapshots filtered on the stack's metadata server-side),
a devbox-filtered snapshot list only for series that may prune foreign snapshots, then status
reads only for the snapshots whose status a decision depends on. A read that fails fails the
discovery: nothing is ever taken as "absent" because a request failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from reconcile.api.client import RunloopClient
from reconcile.api.models import Blueprint, Devbox, Snapshot, StorageObject
from reconcile.errors import ApiNotFoundError
from reconcile.live.imports import import_entries, read_imports
from reconcile.live.model import (
    KEY_DELETE_REFUSED,
    KEY_STACK,
    KEY_STATE,
    LiveBlueprint,
    LiveDevbox,
    LiveObject,
    LiveSnapshot,
    LiveState,
    primary_devbox_ids,
)

if TYPE_CHECKING:
    from reconcile.manifest.schema import Manifest

StatusesNeeded = Callable[[LiveState], frozenset[str]]
LIST_CONCURRENCY = 8  # devbox-filtered snapshot lists in flight (one per imported series)


def _devbox(d: Devbox) -> LiveDevbox:
    return LiveDevbox(
        d.id,
        d.name,
        d.status,
        d.create_time_ms,
        dict(d.metadata),
        d.blueprint_id,
        d.snapshot_id,
        dict(d.launch_parameters),
    )


def _object(o: StorageObject) -> LiveObject:
    return LiveObject(
        o.id, o.name, o.state, o.content_type, o.create_time_ms, o.size_bytes, dict(o.metadata)
    )


def _blueprint(b: Blueprint) -> LiveBlueprint:
    return LiveBlueprint(
        b.id,
        b.name,
        b.status,
        b.create_time_ms,
        dict(b.metadata),
        b.base_blueprint_id,
        b.parameters,
    )


async def _blueprints(client: RunloopClient, manifest: Manifest) -> list[Blueprint]:
    """Every listed build, for a manifest that declares blueprints; no request otherwise."""
    return await client.list_blueprints() if manifest.blueprints else []


def _snapshot(s: Snapshot) -> LiveSnapshot:
    # A complete snapshot stays complete: rlstate's own record of having seen it so saves a
    # status read per snapshot (the list endpoint carries no status).
    # Likewise an `error` one the API refused to delete: that status never changes again.
    known = "unread"
    if s.metadata.get(KEY_STATE) == "complete":
        known = "complete"
    elif s.metadata.get(KEY_DELETE_REFUSED) == "error":
        known = "error"
    return LiveSnapshot(
        s.id,
        s.create_time_ms,
        s.source_devbox_id or "",
        dict(s.metadata),
        s.name,
        s.size_bytes,
        known,
        source_blueprint_id=s.source_blueprint_id,
    )


async def _foreign_snapshots(
    client: RunloopClient, manifest: Manifest, devboxes: list[LiveDevbox]
) -> list[Snapshot]:
    """Snapshots of the devboxes of series with prune_unmanaged (other tools took them), and
    of the devboxes whose snapshots `import:` entries adopt into a series."""
    by_name = primary_devbox_ids(manifest.stack, devboxes)
    wanted = {i.devbox for i in import_entries(manifest, "snapshot").values() if i.devbox}
    for spec in manifest.snapshots.values():
        if spec.prune_unmanaged:
            dbx = spec.devbox if spec.devbox.startswith("dbx_") else by_name.get(spec.devbox)
            if dbx:
                wanted.add(dbx)
    # One list per devbox, several at once (a manifest written by `generate` has one per series).
    gate = asyncio.Semaphore(LIST_CONCURRENCY)

    async def one(devbox_id: str) -> list[Snapshot]:
        async with gate:
            try:
                return await client.list_snapshots(devbox_id=devbox_id)
            except ApiNotFoundError:
                return []

    tasks = [asyncio.create_task(one(d)) for d in sorted(wanted)]
    try:
        lists = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # one list failed: the discovery fails, none is left running
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [snap for listed in lists for snap in listed]


async def list_stack(client: RunloopClient, manifest: Manifest) -> LiveState:
    """The stack's devboxes, objects and snapshots as listed (snapshot statuses unread), and
    the blueprint builds when the manifest declares blueprints."""
    stack = manifest.stack
    all_devboxes, all_objects, own_snaps, blueprints = await asyncio.gather(
        client.list_devboxes(),
        client.list_objects(),
        client.list_snapshots(metadata={KEY_STACK: stack}),
        _blueprints(client, manifest),
    )
    devboxes = [_devbox(d) for d in all_devboxes if d.metadata.get(KEY_STACK) == stack]
    objects = [_object(o) for o in all_objects if o.metadata.get(KEY_STACK) == stack]
    snaps = {s.id: s for s in own_snaps if s.metadata.get(KEY_STACK) == stack}
    for foreign in await _foreign_snapshots(client, manifest, devboxes):
        snaps.setdefault(foreign.id, foreign)
    imported = await read_imports(client, manifest, all_devboxes, all_objects, _devbox, _object)
    return LiveState(
        stack=stack,
        devboxes=tuple(devboxes),
        objects=tuple(objects),
        snapshots=tuple(_snapshot(s) for s in snaps.values()),
        api_url=client.base_url,
        imported=imported,
        blueprints=tuple(_blueprint(b) for b in blueprints),
    )


async def read_statuses(
    client: RunloopClient, ids: frozenset[str]
) -> dict[str, tuple[str, str | None]]:
    """Status of each snapshot id (404 → deleted); any other failure propagates."""
    found: dict[str, tuple[str, str | None]] = {}
    todo = iter(sorted(ids))

    async def worker() -> None:
        for snapshot_id in todo:
            try:
                status = await client.get_snapshot_status(snapshot_id)
            except ApiNotFoundError:
                found[snapshot_id] = ("deleted", None)
            else:
                found[snapshot_id] = (status.status, status.error_message)

    # As many readers as the client's limit could ever let through; the limit decides how many
    # are in flight (the API's latency and throttling, not its host name, set that).
    count = min(client.limit.settings.maximum, len(ids))
    tasks = [asyncio.create_task(worker()) for _ in range(count)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        # One read failed: the discovery fails, and no other read is left running.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return found


async def discover_live_state(
    client: RunloopClient,
    manifest: Manifest,
    statuses_needed: StatusesNeeded | None = None,
    *,
    all_statuses: bool = False,
) -> LiveState:
    """List the stack, then read snapshot statuses until no decision waits on an unread one.

    `statuses_needed(live)` names the unread snapshots a decision depends on (the planner's
    `plan.series.statuses_needed`); `all_statuses` reads every one (for `status`).
    """
    live = await list_stack(client, manifest)
    if all_statuses:
        ids = frozenset(s.id for s in live.snapshots)
        return live.with_statuses(await read_statuses(client, ids))
    if statuses_needed is None:
        return live
    return await read_needed_statuses(client, live, statuses_needed)


async def read_needed_statuses(
    client: RunloopClient, live: LiveState, statuses_needed: StatusesNeeded
) -> LiveState:
    """`live` with every status `statuses_needed` names read, asking again after each round
    (a status read can make another one matter) until it names none."""
    for _ in range(len(live.snapshots) + 1):
        needed = statuses_needed(live)
        if not needed:
            break
        live = live.with_statuses(await read_statuses(client, needed))
    return live
