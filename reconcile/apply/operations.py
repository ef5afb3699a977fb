"""Which coroutine runs which action: one per (resource, kind); the table and nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from reconcile.apply import adopt_ops, blueprint_ops, devbox_ops, storage_ops
from reconcile.apply.context import Done, OpContext
from reconcile.plan.model import Action

Operation = Callable[[OpContext], Awaitable[Done]]

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("devbox", "create"): devbox_ops.create_devbox,
    ("devbox", "restore"): devbox_ops.create_devbox,
    ("devbox", "replace"): devbox_ops.create_devbox,
    ("devbox", "update"): devbox_ops.update_devbox,
    ("devbox", "suspend"): devbox_ops.suspend_devbox,
    ("devbox", "resume"): devbox_ops.resume_devbox,
    ("devbox", "delete"): devbox_ops.delete_devbox,
    ("object", "create"): storage_ops.create_object,
    ("object", "replace"): storage_ops.create_object,
    ("object", "delete"): storage_ops.delete_object,
    ("snapshot", "snapshot"): storage_ops.snapshot,
    ("snapshot", "prune"): storage_ops.delete_snapshot,
    ("snapshot", "mark"): storage_ops.mark_snapshot,
    ("snapshot", "delete"): storage_ops.delete_snapshot,
    ("devbox", "adopt"): adopt_ops.adopt_devbox,
    ("snapshot", "adopt"): adopt_ops.adopt_snapshot,
    ("blueprint", "adopt"): adopt_ops.adopt_blueprint,
    ("blueprint", "build"): blueprint_ops.build_blueprint,
    ("blueprint", "prune"): blueprint_ops.delete_blueprint,
    ("blueprint", "delete"): blueprint_ops.delete_blueprint,
}

STARTING: dict[str, str] = {
    "create": "creating",
    "restore": "restoring",
    "replace": "replacing",
    "update": "updating",
    "suspend": "suspending",
    "resume": "resuming",
    "delete": "deleting",
    "snapshot": "taking a snapshot",
    "prune": "pruning",
    "adopt": "adopting",
    "build": "building",
    "mark": "scheduling for deletion",
}


def operation_for(action: Action) -> Operation | None:
    return OPERATIONS.get((action.resource, action.kind))


def starting_message(action: Action) -> str:
    """The sentence shown when an action starts: "devbox.builder: creating"."""
    what = STARTING.get(action.kind, action.kind)
    shows_id = action.resource_id and action.kind in ("prune", "delete", "adopt", "mark")
    target = f" {action.resource_id}" if shows_id else ""
    return f"{action.address}: {what}{target}"
