"""The server's records (devboxes, executions, snapshots, objects, blueprints); data only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSON = dict[str, Any]
T = TypeVar("T")

# Declared devbox transitions: status -> statuses it may move to. failure and shutdown are final.
DEVBOX_TRANSITIONS: dict[str, frozenset[str]] = {
    "provisioning": frozenset({"initializing", "failure", "shutdown"}),
    "initializing": frozenset({"running", "failure", "shutdown"}),
    "running": frozenset({"suspending", "failure", "shutdown"}),
    "suspending": frozenset({"suspended", "failure", "shutdown"}),
    "suspended": frozenset({"resuming", "shutdown"}),
    "resuming": frozenset({"running", "failure", "shutdown"}),
    "failure": frozenset(),
    "shutdown": frozenset(),
}
DEVBOX_STATUSES = tuple(DEVBOX_TRANSITIONS)
# Also valid in list filters and waits, as the SDK allows them, but never reached here: `queued`
# (flex tier, waiting for a node) and the deprecated `scheduled`.
DEVBOX_KNOWN_STATUSES = ("scheduled", "queued", *DEVBOX_STATUSES)
DEVBOX_FINAL = frozenset(s for s, nxt in DEVBOX_TRANSITIONS.items() if not nxt)
DEVBOX_BOOTING = frozenset({"provisioning", "initializing", "resuming", "suspending"})

EXECUTION_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "completed"}),
    "running": frozenset({"completed"}),
    "completed": frozenset(),
}
EXECUTION_STATUSES = tuple(EXECUTION_TRANSITIONS)

SNAPSHOT_TRANSITIONS: dict[str, frozenset[str]] = {
    "in_progress": frozenset({"complete", "error"}),
    "complete": frozenset({"deleted"}),
    "error": frozenset({"deleted"}),
    "deleted": frozenset(),
}

OBJECT_TRANSITIONS: dict[str, frozenset[str]] = {
    "UPLOADING": frozenset({"READ_ONLY", "DELETED", "ERROR"}),
    "READ_ONLY": frozenset({"DELETED"}),
    "ERROR": frozenset({"DELETED"}),
    "DELETED": frozenset(),
}
OBJECT_CONTENT_TYPES = ("unspecified", "text", "binary", "gzip", "tar", "tgz")
OBJECT_STATES = ("UPLOADING", "READ_ONLY", "DELETED", "ERROR")
ARCHIVE_CONTENT_TYPES = frozenset({"gzip", "tar", "tgz"})

BLUEPRINT_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"provisioning", "building", "failed"}),
    "provisioning": frozenset({"building", "failed"}),
    "building": frozenset({"build_complete", "failed"}),
    "build_complete": frozenset(),
    "failed": frozenset(),
}
# A blueprint's `state` (apart from its build `status`): deleting one is the only move.
BLUEPRINT_STATE_TRANSITIONS: dict[str, frozenset[str]] = {
    "created": frozenset({"deleted"}),
    "deleted": frozenset(),
}


def can_move(table: dict[str, frozenset[str]], old: str, new: str) -> bool:
    return new in table.get(old, frozenset())


@dataclass
class Devbox:
    id: str
    create_time_ms: int
    status: str = "provisioning"
    name: str | None = None
    end_time_ms: int | None = None
    blueprint_id: str | None = None
    snapshot_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    failure_reason: str | None = None
    shutdown_reason: str | None = None
    launch_parameters: JSON = field(default_factory=dict)
    state_transitions: list[JSON] = field(default_factory=list)
    environment_variables: dict[str, str] = field(default_factory=dict)
    file_mounts: dict[str, str] = field(default_factory=dict)
    mounts: list[JSON] = field(default_factory=list)
    entrypoint: str | None = None
    disk_ready: bool = False
    seeded: bool = False


@dataclass
class Execution:
    id: str
    devbox_id: str
    command: str
    create_time_ms: int
    status: str = "queued"
    command_id: str | None = None
    exit_status: int | None = None
    end_time_ms: int | None = None
    shell_name: str | None = None
    source: str = "exec"  # devbox log source: exec, setup_commands or entrypoint


@dataclass
class Snapshot:
    id: str
    source_devbox_id: str
    create_time_ms: int
    status: str = "in_progress"
    name: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    commit_message: str | None = None
    source_blueprint_id: str | None = None
    size_bytes: int | None = None
    error_message: str | None = None
    seeded: bool = False


@dataclass
class StoredObject:
    id: str
    name: str
    content_type: str
    create_time_ms: int
    state: str = "UPLOADING"
    size_bytes: int | None = None
    delete_after_time_ms: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    seeded: bool = False


@dataclass
class Blueprint:
    id: str
    name: str
    create_time_ms: int
    parameters: JSON
    status: str = "queued"
    state: str = "created"
    build_finish_time_ms: int | None = None
    failure_reason: str | None = None
    base_blueprint_id: str | None = None
    metadata: dict[str, str] | None = None
    logs: list[JSON] = field(default_factory=list)


RECORD_TYPES: dict[str, type[Any]] = {
    "devboxes": Devbox,
    "executions": Execution,
    "snapshots": Snapshot,
    "objects": StoredObject,
    "blueprints": Blueprint,
}


def to_json(record: Any) -> JSON:
    data: JSON = dataclasses.asdict(record)
    return data


def from_json(cls: type[T], data: JSON) -> T:
    """Build a record from stored JSON, ignoring fields this version does not know."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})
