"""`rlstate undelete SERIES [--all | ID...]`: clear the grace marks a prune left on snapshots.

A prune under `prune.grace` marks snapshots `rlstate.delete_after=<time>` instead of deleting
them; until a later `retain` deletes them, this takes the mark off (a metadata update that keeps
every other key). Holds the stack's lock, so it never runs beside `retain` or `apply`. Note that
an unchanged policy marks them again on the next run: fix the manifest first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.commands.common import load, make_client
from reconcile.commands.connection import ConnectionSettings, connect
from reconcile.commands.interrupts import run_async
from reconcile.commands.runlock import run_lock
from reconcile.errors import UserError

if TYPE_CHECKING:
    from reconcile.api.client import RunloopClient
    from reconcile.live.model import LiveSnapshot
    from reconcile.manifest.schema import Manifest


def _chosen(marked: dict[str, LiveSnapshot], ids: list[str], every: bool) -> list[LiveSnapshot]:
    if every == bool(ids):
        raise UserError("undelete: name snapshot ids or pass --all (not both)")
    if every:
        return sorted(marked.values(), key=lambda s: (s.create_time_ms, s.id))
    unknown = [i for i in ids if i not in marked]
    if unknown:
        raise UserError(
            f"undelete: not scheduled for deletion in this series: {', '.join(unknown)}"
        )
    return [marked[i] for i in dict.fromkeys(ids)]


async def _undelete(
    client: RunloopClient, manifest: Manifest, series: str, ids: list[str], every: bool
) -> list[tuple[LiveSnapshot, str]]:
    from reconcile.live.discovery import list_stack
    from reconcile.live.model import KEY_DELETE_AFTER
    from reconcile.plan.series import series_views
    from reconcile.stamps import without_mark

    live = await list_stack(client, manifest)
    (view,) = [v for v in series_views(manifest, live) if v.name == series]
    marked = {s.id: s for s in view.all if KEY_DELETE_AFTER in s.metadata}
    done = []
    for snap in _chosen(marked, ids, every):
        await client.update_snapshot(snap.id, name=snap.name, metadata=without_mark(snap.metadata))
        done.append((snap, snap.metadata[KEY_DELETE_AFTER]))
    return done


def run(
    manifest_path: Path, conn: object, series: str, ids: list[str], every: bool, json_out: bool
) -> int:
    """Clears the marks; prints one line per snapshot (or one JSON document)."""
    assert isinstance(conn, ConnectionSettings)
    loaded = load(manifest_path, need_env=False)
    manifest = loaded.manifest
    if series.startswith("snapshot.") and series not in manifest.snapshots:
        series = series.removeprefix("snapshot.")  # the address every output prints
    if series not in manifest.snapshots:
        names = ", ".join(sorted(manifest.snapshots)) or "none"
        raise UserError(f"{manifest_path}: no snapshot series {series!r} (series: {names})")
    with run_lock(loaded, conn, "undelete"), connect(conn, quiet=True) as endpoint:

        async def go() -> list[tuple[LiveSnapshot, str]]:
            async with make_client(endpoint) as client:
                return await _undelete(client, manifest, series, ids, every)

        done = run_async(go())
    if json_out:
        data: dict[str, Any] = {
            "series": series,
            "undeleted": [{"snapshot": s.id, "was_scheduled_for": when} for s, when in done],
        }
        sys.stdout.write(json.dumps(data) + "\n")
        return 0
    for snap, when in done:
        sys.stdout.write(
            f"snapshot.{series}: {snap.id} kept (was scheduled for deletion at {when})\n"
        )
    count = len(done)
    sys.stdout.write(
        f"Undeleted {count} snapshot{'' if count == 1 else 's'} of snapshot.{series}.\n"
    )
    return 0
