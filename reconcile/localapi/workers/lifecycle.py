"""Drives devboxes through their statuses (boot, suspend, resume, shutdown); no HTTP here.

One driver task per devbox walks the declared table in records.py: provisioning (wait for a source
snapshot or blueprint build, create the disk) → initializing (file mounts, object mounts, launch
commands) → running; suspending → suspended; resuming (launch commands again) → running. Each
step lasts at least the configured transition time. A server restart re-enters the step the
devbox was in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from reconcile.localapi.disk import DiskError
from reconcile.localapi.state.backend import Backend, log
from reconcile.localapi.state.problems import Conflict, WrongState
from reconcile.localapi.state.records import ARCHIVE_CONTENT_TYPES, Devbox
from reconcile.localapi.workers.builds import Builds
from reconcile.localapi.workers.runner import Runner


class SetupFailed(Exception):
    """A boot step failed; the devbox ends in `failure`."""


class Lifecycle:
    """Creates devboxes and moves them between statuses."""

    def __init__(self, backend: Backend, runner: Runner, builds: Builds) -> None:
        self.b = backend
        self.runner = runner
        self.builds = builds
        self._steps: dict[str, Callable[[Devbox], Awaitable[None]]] = {
            "provisioning": self._provision,
            "initializing": self._initialize,
            "suspending": self._suspend,
            "resuming": self._resume,
        }

    def launch(self, dbx: Devbox) -> Devbox:
        """Record a new devbox (status provisioning) and start driving it."""
        dbx.state_transitions = [{"status": dbx.status, "transition_time_ms": dbx.create_time_ms}]
        self.b.save(dbx)
        self.drive(dbx)
        return dbx

    def drive(self, dbx: Devbox) -> None:
        if dbx.status in self._steps:
            self.b.spawn(self._drive(dbx), owner=dbx.id)

    async def _drive(self, dbx: Devbox) -> None:
        try:
            while (step := self._steps.get(dbx.status)) is not None:
                await step(dbx)
        except asyncio.CancelledError:
            raise
        except (SetupFailed, DiskError, OSError) as exc:
            log.info("devbox %s failed: %s", dbx.id, exc)
            self.b.move_devbox(dbx, "failure", failure_reason="execution_failed")
        except Exception:  # a bug must not leave the devbox between statuses forever
            log.exception("devbox %s failed unexpectedly", dbx.id)
            self.b.move_devbox(dbx, "failure", failure_reason="execution_failed")
        if dbx.status == "running" and dbx.entrypoint:
            await self._run_entrypoint(dbx)

    async def _pause(self) -> None:
        await asyncio.sleep(max(self.b.settings.transition_seconds, 0.0))

    async def _provision(self, dbx: Devbox) -> None:
        await self._pause()
        image = dbx.snapshot_id or dbx.blueprint_id
        if dbx.snapshot_id:
            snp = self.b.snapshots.get(dbx.snapshot_id)
            await self.b.notifier.wait_until(
                dbx.snapshot_id, lambda: snp is None or snp.status != "in_progress", None
            )
            if snp is None or snp.status != "complete":
                raise SetupFailed(f"snapshot {dbx.snapshot_id} did not complete")
        bpt = self.b.blueprints.get(dbx.blueprint_id) if dbx.blueprint_id else None
        if bpt is not None and (why := await self.builds.until_built(bpt)) is not None:
            raise SetupFailed(why)
        if not dbx.disk_ready:
            await asyncio.to_thread(self.b.disks.create_disk, dbx.id, image)
            dbx.disk_ready = True
        self.b.move_devbox(dbx, "initializing")

    async def _initialize(self, dbx: Devbox) -> None:
        await self._pause()
        await self._write_mounts(dbx)
        await self._launch_commands(dbx)
        self.b.move_devbox(dbx, "running")

    async def _suspend(self, dbx: Devbox) -> None:
        await self.runner.kill_all(dbx.id)
        await self._pause()
        self.b.move_devbox(dbx, "suspended")

    async def _resume(self, dbx: Devbox) -> None:
        await self._pause()
        await self._launch_commands(dbx)
        self.b.move_devbox(dbx, "running")

    async def _write_mounts(self, dbx: Devbox) -> None:
        disks = self.b.disks
        for path, content in dbx.file_mounts.items():
            await asyncio.to_thread(disks.write_file, dbx.id, path, content.encode())
        for mount in dbx.mounts:
            if mount.get("type") == "file_mount":
                data = str(mount["content"]).encode()
                await asyncio.to_thread(disks.write_file, dbx.id, str(mount["target"]), data)
            elif mount.get("type") == "object_mount":
                await self._mount_object(dbx, str(mount["object_id"]), str(mount["object_path"]))

    async def _mount_object(self, dbx: Devbox, object_id: str, path: str) -> None:
        obj = self.b.objects.get(object_id)
        if obj is None or obj.state != "READ_ONLY":
            raise SetupFailed(f"object {object_id} is not available")
        blob = self.b.store.object_path(object_id)
        data = await asyncio.to_thread(blob.read_bytes) if blob.exists() else b""
        if obj.content_type in ARCHIVE_CONTENT_TYPES:
            await asyncio.to_thread(
                self.b.disks.unpack_archive, dbx.id, path, data, obj.content_type
            )
        else:
            await asyncio.to_thread(self.b.disks.write_file, dbx.id, path, data)

    async def _launch_commands(self, dbx: Devbox) -> None:
        """Run one by one as executions (so the devbox logs show them); stop at a failing one."""
        for command in [str(c) for c in dbx.launch_parameters.get("launch_commands") or []]:
            exn = await self.runner.run_to_end(dbx, command, "setup_commands")
            if exn.exit_status != 0:
                raise SetupFailed(f"launch command {command!r} exited {exn.exit_status}")

    async def _run_entrypoint(self, dbx: Devbox) -> None:
        assert dbx.entrypoint is not None
        await self.runner.run_to_end(dbx, dbx.entrypoint, "entrypoint")
        if dbx.status == "running":
            self.b.move_devbox(dbx, "shutdown", shutdown_reason="entrypoint_exit")
            self._drop_disk_later(dbx)

    # requests

    def suspend(self, dbx: Devbox) -> Devbox:
        if dbx.status != "running":
            raise WrongState(
                f"devbox {dbx.id} is {dbx.status}; only a running devbox can be suspended"
            )
        self.b.cancel_owned(dbx.id)  # e.g. a running entrypoint watcher
        self.b.move_devbox(dbx, "suspending")
        self.drive(dbx)
        return dbx

    def resume(self, dbx: Devbox) -> Devbox:
        if dbx.status != "suspended":
            raise WrongState(
                f"devbox {dbx.id} is {dbx.status}; only a suspended devbox can be resumed"
            )
        self.b.move_devbox(dbx, "resuming")
        self.drive(dbx)
        return dbx

    async def shutdown(self, dbx: Devbox, force: bool) -> Devbox:
        """Stop a devbox for good; refused (409) while a snapshot of it runs, unless forced."""
        if dbx.status in ("shutdown", "failure"):
            return dbx
        if not force and self.b.in_progress_snapshots(dbx.id):
            raise Conflict(
                f"devbox {dbx.id} has a disk snapshot in progress; retry later or use force=true",
                permanent=False,
            )
        self.b.cancel_owned(dbx.id)
        self.b.move_devbox(dbx, "shutdown", shutdown_reason="api_shutdown")
        await self.runner.kill_all(dbx.id)
        self._drop_disk_later(dbx)
        return dbx

    def _drop_disk_later(self, dbx: Devbox) -> None:
        """Delete the disk once no snapshot still reads it."""

        async def drop() -> None:
            await self.b.notifier.wait_until(
                f"snapshots-of:{dbx.id}", lambda: not self.b.in_progress_snapshots(dbx.id), None
            )
            await asyncio.to_thread(self.b.disks.delete_disk, dbx.id)

        self.b.spawn(drop())

    def recover(self) -> None:
        """After a restart: continue every devbox that was between statuses."""
        for dbx in self.b.devboxes.values():
            if dbx.seeded:
                continue
            if dbx.status in self._steps:
                self.drive(dbx)
            elif dbx.status == "running" and dbx.entrypoint:
                self.b.spawn(self._run_entrypoint(dbx), owner=dbx.id)
