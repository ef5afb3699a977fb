"""Completion stamps learnt on read: a snapshot of the stack that this run read as `complete`
gets `rlstate.state=complete` in its metadata, so later plans need not read its status again
(a complete snapshot never changes status). Only `apply` and `retain` stamp, after they have
decided to change things; `plan` and dry runs stay read-only. It decides nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

from reconcile.api import RunloopClient
from reconcile.errors import ApiError
from reconcile.live.model import KEY_STACK, KEY_STATE, LiveSnapshot, LiveState


def unstamped_complete(live: LiveState, skip: Collection[str] = ()) -> list[LiveSnapshot]:
    """The stack's snapshots read complete but not stamped so, except the ids in `skip` (those
    the run is about to delete or change)."""
    return [
        s
        for s in live.snapshots
        if s.status == "complete"
        and s.metadata.get(KEY_STACK) == live.stack
        and s.metadata.get(KEY_STATE) != "complete"
        and s.id not in skip
    ]


async def stamp_complete(client: RunloopClient, live: LiveState, skip: Collection[str] = ()) -> int:
    """Stamps each of `unstamped_complete(live, skip)`; returns how many were stamped.

    The update replaces the whole metadata map, so the stamp is merged into the listed one. A
    stamp is only a saving: one that fails leaves the status to be read next time."""
    todo = unstamped_complete(live, skip)

    async def stamp(snapshot: LiveSnapshot) -> bool:
        with contextlib.suppress(ApiError):
            metadata = {**snapshot.metadata, KEY_STATE: "complete"}
            await client.update_snapshot(snapshot.id, name=snapshot.name, metadata=metadata)
            return True
        return False

    done = await asyncio.gather(*(stamp(s) for s in todo))
    return sum(done)
