"""Disk snapshots: capture a devbox disk as an image in the background, delete, recover; no HTTP."""

from __future__ import annotations

import asyncio
import random

from reconcile.localapi.disk import DiskError
from reconcile.localapi.state.backend import Backend, log
from reconcile.localapi.state.problems import Conflict, Failed, WrongState
from reconcile.localapi.state.records import Devbox, Snapshot

# How long snapshot_disk_async waits for a quick capture before answering, so the first status
# poll of a small snapshot usually says `complete` (the answer is the same either way).
ASYNC_GRACE_SECONDS = 0.5
SNAPSHOTTABLE = ("running", "suspended")
ONLY_COMPLETE_DELETABLE = "Only successfully created snapshots can be deleted"


class Snapshots:
    """Takes, deletes and recovers disk snapshots."""

    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self._dice = random.Random()

    def reseed(self, seed: int | None) -> None:
        self._dice = random.Random(seed)

    async def take(
        self,
        dbx: Devbox,
        *,
        name: str | None,
        metadata: dict[str, str],
        commit_message: str | None,
        wait: bool,
    ) -> Snapshot:
        if dbx.status not in SNAPSHOTTABLE or dbx.seeded:
            raise WrongState(
                f"devbox {dbx.id} is {dbx.status}; only running or suspended ones have a disk"
            )
        snp = Snapshot(
            id=self.b.new_id("snapshot"),
            source_devbox_id=dbx.id,
            create_time_ms=self.b.now_ms(),
            name=name,
            metadata=metadata,
            commit_message=commit_message,
            source_blueprint_id=dbx.blueprint_id,
        )
        self.b.save(snp)
        task = self.b.spawn(self._capture(snp), owner=snp.id)
        if wait:
            await asyncio.shield(task)
            if snp.status == "error":
                raise Failed(f"snapshot {snp.id} failed: {snp.error_message}")
        else:
            await asyncio.wait({task}, timeout=ASYNC_GRACE_SECONDS)
        return snp

    async def _capture(self, snp: Snapshot) -> None:
        try:
            size = await asyncio.to_thread(self.b.disks.save_image, snp.source_devbox_id, snp.id)
            if self.b.settings.snapshot_extra_seconds > 0:
                await asyncio.sleep(self.b.settings.snapshot_extra_seconds)
            if self._dice.random() < self.b.settings.faults.snapshot_error_rate:
                await asyncio.to_thread(self.b.disks.delete_image, snp.id)
                raise DiskError("injected fault: the snapshot failed")
        except (DiskError, OSError) as exc:
            self._end(snp, "error", error_message=str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug must not leave the snapshot in progress forever
            log.exception("snapshot %s failed unexpectedly", snp.id)
            self._end(snp, "error", error_message=f"internal error: {type(exc).__name__}")
        else:
            snp.size_bytes = size
            self._end(snp, "complete")

    def _end(self, snp: Snapshot, status: str, error_message: str | None = None) -> None:
        """Only a snapshot in progress ends (the table's only way to complete or error)."""
        if self.b.move_snapshot(snp, status, error_message=error_message):
            self.b.notifier.notify(f"snapshots-of:{snp.source_devbox_id}")

    def delete(self, snp: Snapshot) -> None:
        """Only a complete snapshot can be deleted, as the API says: one in progress is a 409
        that may pass (retryable), one that ended in `error` a 409 that never will."""
        if snp.status == "in_progress":
            raise Conflict(f"snapshot {snp.id} is still in progress", permanent=False)
        if snp.status != "complete":
            raise Conflict(ONLY_COMPLETE_DELETABLE, permanent=True)
        self.b.move_snapshot(snp, "deleted")
        self.b.spawn(asyncio.to_thread(self.b.disks.delete_image, snp.id))

    def recover(self) -> None:
        """After a restart no capture is running any more: those snapshots failed."""
        for snp in self.b.snapshots.values():
            if snp.status == "in_progress":
                self._end(snp, "error", error_message="server restarted during the snapshot")
