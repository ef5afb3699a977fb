"""Wires one server's parts together (store, disks, sandbox, backend and the workers) and runs its
start, reset and stop; the routes reach everything through `Services`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from reconcile.localapi.config import LocalConfig, RuntimeSettings, token_path
from reconcile.localapi.disk import DiskStore
from reconcile.localapi.sandbox import Sandbox
from reconcile.localapi.signing import Signer
from reconcile.localapi.state.backend import Backend
from reconcile.localapi.state.sqlite_store import Store
from reconcile.localapi.workers.builds import Builds
from reconcile.localapi.workers.lifecycle import Lifecycle
from reconcile.localapi.workers.runner import Runner
from reconcile.localapi.workers.snapshots import Snapshots

REPLY_KEEP_MS = 3600 * 1000  # how long an x-request-id answer is replayed


@dataclass
class Services:
    config: LocalConfig
    token: str
    store: Store
    backend: Backend
    runner: Runner
    lifecycle: Lifecycle
    snapshots: Snapshots
    builds: Builds
    signer: Signer
    started: bool = False

    @classmethod
    def build(cls, config: LocalConfig, token: str) -> Services:
        data_dir = config.data_dir.absolute()  # the sandbox binds paths under it, from anywhere
        store = Store(data_dir)
        disks = DiskStore(data_dir / "disks")
        hidden = [data_dir, token_path(data_dir)]
        sandbox = Sandbox(disks, hidden_paths=hidden, force_mode=config.sandbox_mode)
        backend = Backend(config, store, disks, sandbox)
        runner = Runner(backend)
        builds = Builds(backend, runner)
        return cls(
            config=config,
            token=token,
            store=store,
            backend=backend,
            runner=runner,
            lifecycle=Lifecycle(backend, runner, builds),
            snapshots=Snapshots(backend),
            builds=builds,
            signer=Signer(data_dir),
        )

    async def start(self) -> None:
        """Load the records and finish or fail whatever was in progress when the server stopped."""
        if self.started:
            return
        self.started = True
        b = self.backend
        b.load()
        self.runner.index()
        for exn in b.executions.values():
            if exn.status != "completed":
                exn.status, exn.exit_status, exn.end_time_ms = "completed", 143, b.now_ms()
                b.save(exn)
        self.snapshots.recover()
        self.builds.recover()
        self.lifecycle.recover()
        self.store.prune_replies(b.now_ms() - REPLY_KEEP_MS)

    async def stop(self) -> None:
        await self.backend.cancel_all()
        self.store.close()
        await asyncio.to_thread(self.backend.disks.close)

    async def reset(self) -> None:
        """Drop every record, disk, image and blob; settings go back to the constructor's."""
        b = self.backend
        await b.cancel_all()
        b.processes.clear()
        boxes = [*b.devboxes, *b.blueprints]
        self.store.clear()
        for kind in ("devboxes", "executions", "snapshots", "objects", "blueprints"):
            getattr(b, kind).clear()
        self.runner.index()
        await asyncio.to_thread(_wipe_disks, b.disks, boxes)
        b.settings = RuntimeSettings.from_config(self.config)
        self.snapshots.reseed(None)
        b.notifier.notify_all()


def _wipe_disks(disks: DiskStore, boxes: list[str]) -> None:
    for box in boxes:
        disks.delete_disk(box)
    for image in disks.list_images():
        disks.delete_image(image)
