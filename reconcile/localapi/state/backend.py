"""The local server's state: records in memory, written through to the store; long-poll wake-ups.

No HTTP here and no devbox machinery: lifecycle.py, runner.py, snapshots.py and builds.py act on
this state. Everything runs on the server's event loop; blocking disk work goes through threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from reconcile.localapi.config import LocalConfig, RuntimeSettings
from reconcile.localapi.disk import DiskStore
from reconcile.localapi.sandbox import Sandbox
from reconcile.localapi.state import ids
from reconcile.localapi.state.notifier import Notifier
from reconcile.localapi.state.problems import NotFound
from reconcile.localapi.state.records import (
    BLUEPRINT_STATE_TRANSITIONS,
    BLUEPRINT_TRANSITIONS,
    DEVBOX_TRANSITIONS,
    OBJECT_TRANSITIONS,
    RECORD_TYPES,
    SNAPSHOT_TRANSITIONS,
    Blueprint,
    Devbox,
    Execution,
    Snapshot,
    StoredObject,
    can_move,
    from_json,
    to_json,
)
from reconcile.localapi.state.sqlite_store import Store

log = logging.getLogger("reconcile.localapi")
R = TypeVar("R")
_KIND_OF = {cls: kind for kind, cls in RECORD_TYPES.items()}


class Backend:
    """All records of one server, their persistence and the tasks working on them."""

    def __init__(
        self, config: LocalConfig, store: Store, disks: DiskStore, sandbox: Sandbox
    ) -> None:
        self.config = config
        self.store = store
        self.disks = disks
        self.sandbox = sandbox
        self.settings = RuntimeSettings.from_config(config)
        self.notifier = Notifier()
        self.devboxes: dict[str, Devbox] = {}
        self.executions: dict[str, Execution] = {}
        self.snapshots: dict[str, Snapshot] = {}
        self.objects: dict[str, StoredObject] = {}
        self.blueprints: dict[str, Blueprint] = {}
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._owned: dict[str, asyncio.Task[Any]] = {}

    # time and ids

    def now_ms(self) -> int:
        return int((time.time() + self.settings.clock_offset_seconds) * 1000)

    def new_id(self, kind: str, time_ms: int | None = None) -> str:
        return ids.new_id(ids.PREFIXES[kind], self.now_ms() if time_ms is None else time_ms)

    # persistence

    def load(self) -> None:
        """Read every record from the store (at start)."""
        for kind, cls in RECORD_TYPES.items():
            table: dict[str, Any] = getattr(self, kind)
            table.clear()
            for data in self.store.load(kind):
                record = from_json(cls, data)
                table[record.id] = record

    def save(self, record: Any) -> None:
        """Write a record through to the store and wake whoever waits on it."""
        kind = _KIND_OF[type(record)]
        getattr(self, kind)[record.id] = record
        self.store.put(kind, to_json(record))
        self.notifier.notify(record.id)

    def save_many(self, records: list[Any]) -> None:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            kind = _KIND_OF[type(record)]
            getattr(self, kind)[record.id] = record
            by_kind.setdefault(kind, []).append(to_json(record))
        for kind, rows in by_kind.items():
            self.store.put_many(kind, rows)

    # lookups (404 when unknown)

    def devbox(self, devbox_id: str) -> Devbox:
        return _found(self.devboxes.get(devbox_id), f"devbox {devbox_id} not found")

    def execution(self, devbox_id: str, execution_id: str) -> Execution:
        exn = self.executions.get(execution_id)
        if exn is None or exn.devbox_id != devbox_id:
            raise NotFound(f"execution {execution_id} not found on devbox {devbox_id}")
        return exn

    def snapshot(self, snapshot_id: str, *, allow_deleted: bool = False) -> Snapshot:
        snp = self.snapshots.get(snapshot_id)
        if snp is None or (snp.status == "deleted" and not allow_deleted):
            raise NotFound(f"snapshot {snapshot_id} not found")
        return snp

    def object(self, object_id: str) -> StoredObject:
        obj = self.objects.get(object_id)
        if obj is None or obj.state == "DELETED":
            raise NotFound(f"object {object_id} not found")
        return obj

    def blueprint(self, blueprint_id: str) -> Blueprint:
        bpt = self.blueprints.get(blueprint_id)
        if bpt is None or bpt.state == "deleted":
            raise NotFound(f"blueprint {blueprint_id} not found")
        return bpt

    # devbox status moves, checked against the declared table

    def move_devbox(
        self,
        dbx: Devbox,
        status: str,
        *,
        failure_reason: str | None = None,
        shutdown_reason: str | None = None,
    ) -> bool:
        """Move a devbox to `status` if the table allows it; False (and no change) otherwise."""
        if not can_move(DEVBOX_TRANSITIONS, dbx.status, status):
            return False
        now = self.now_ms()
        dbx.status = status
        transition: dict[str, Any] = {"status": status, "transition_time_ms": now}
        if status == "failure":
            dbx.failure_reason = failure_reason or "execution_failed"
            transition["failure_reason"] = dbx.failure_reason
        if status == "shutdown":
            dbx.shutdown_reason = shutdown_reason or "api_shutdown"
        if not DEVBOX_TRANSITIONS[status]:
            dbx.end_time_ms = now
        dbx.state_transitions.append(transition)
        self.save(dbx)
        return True

    # snapshot, object and blueprint moves, each checked against its declared table in records.py

    def move_snapshot(
        self, snp: Snapshot, status: str, *, error_message: str | None = None
    ) -> bool:
        """Move a snapshot to `status` if the table allows it; False (and no change) otherwise.
        A capture's outcome (complete or error) also sets `error_message`."""
        if not can_move(SNAPSHOT_TRANSITIONS, snp.status, status):
            return False
        snp.status = status
        if status in ("complete", "error"):
            snp.error_message = error_message
        self.save(snp)
        return True

    def move_object(self, obj: StoredObject, state: str) -> bool:
        """Move an object to `state` if the table allows it; False (and no change) otherwise."""
        return self._move(obj, "state", OBJECT_TRANSITIONS, state)

    def move_blueprint(self, bpt: Blueprint, status: str) -> bool:
        """Move a blueprint's build to `status` if the table allows it; False (and no change)
        otherwise."""
        return self._move(bpt, "status", BLUEPRINT_TRANSITIONS, status)

    def move_blueprint_state(self, bpt: Blueprint, state: str) -> bool:
        """Move a blueprint's `state` (created → deleted) if the table allows it; False (and no
        change) otherwise."""
        return self._move(bpt, "state", BLUEPRINT_STATE_TRANSITIONS, state)

    def _move(self, record: Any, field: str, table: dict[str, frozenset[str]], to: str) -> bool:
        """Set the record's `field` to `to` and save it when `table` allows that move."""
        if not can_move(table, getattr(record, field), to):
            return False
        setattr(record, field, to)
        self.save(record)
        return True

    def in_progress_snapshots(self, devbox_id: str) -> list[Snapshot]:
        return [
            s
            for s in self.snapshots.values()
            if s.source_devbox_id == devbox_id and s.status == "in_progress"
        ]

    # background tasks

    def spawn(self, coro: Coroutine[Any, Any, R], owner: str | None = None) -> asyncio.Task[R]:
        """Run `coro` in the background; `owner` names a record whose one driver task this is."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        if owner is not None:
            self._owned[owner] = task
        task.add_done_callback(lambda t: self._forget(t, owner))
        return task

    def _forget(self, task: asyncio.Task[Any], owner: str | None) -> None:
        self._tasks.discard(task)
        if owner is not None and self._owned.get(owner) is task:
            del self._owned[owner]
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def cancel_owned(self, owner: str) -> None:
        task = self._owned.pop(owner, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def cancel_all(self) -> None:
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        for proc in list(self.processes.values()):
            await self.sandbox.kill(proc)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self._owned.clear()

    def counts(self) -> dict[str, int]:
        return {kind: len(getattr(self, kind)) for kind in RECORD_TYPES}


def _found(record: R | None, message: str) -> R:
    if record is None:
        raise NotFound(message)
    return record
