"""Typed views of the Runloop API's answers; parsing only — no HTTP, no decisions.

Every model is frozen and ignores fields it does not know, so a newer server that adds
fields still parses. Optional fields default, so partial answers parse too; only a missing
required field (an id, a status) makes an answer unusable, and the client reports that as
ApiProtocolError.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _none_to_empty_dict(value: object) -> object:
    return {} if value is None else value


def _none_to_empty_str(value: object) -> object:
    return "" if value is None else value


StrMap = Annotated[dict[str, str], BeforeValidator(_none_to_empty_dict)]
AnyMap = Annotated[dict[str, Any], BeforeValidator(_none_to_empty_dict)]
Text = Annotated[str, BeforeValidator(_none_to_empty_str)]


class WireModel(BaseModel):
    """Base of every wire view: immutable, tolerant of fields it does not know."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Devbox(WireModel):
    """A devbox (DevboxView)."""

    id: str
    status: str
    create_time_ms: int
    name: str | None = None
    end_time_ms: int | None = None
    metadata: StrMap = Field(default_factory=dict)
    blueprint_id: str | None = None
    snapshot_id: str | None = None
    launch_parameters: AnyMap = Field(default_factory=dict)
    failure_reason: str | None = None
    shutdown_reason: str | None = None


class Snapshot(WireModel):
    """A disk snapshot (DevboxDiskSnapshotView); it has no status, see SnapshotStatus."""

    id: str
    create_time_ms: int
    name: str | None = None
    metadata: StrMap = Field(default_factory=dict)
    source_devbox_id: str | None = None
    source_blueprint_id: str | None = None
    size_bytes: int | None = None
    commit_message: str | None = None


class SnapshotStatus(WireModel):
    """The progress of a disk snapshot: in_progress, complete, error or deleted."""

    status: str
    error_message: str | None = None
    snapshot: Snapshot | None = None


class StorageObject(WireModel):
    """A storage object (ObjectView); upload_url/upload_headers only come with create."""

    id: str
    name: str
    state: str
    content_type: str
    create_time_ms: int
    size_bytes: int | None = None
    metadata: StrMap = Field(default_factory=dict)
    upload_url: str | None = None
    upload_headers: StrMap = Field(default_factory=dict)
    delete_after_time_ms: int | None = None


class Execution(WireModel):
    """A command execution (AsyncExecutionDetailView); output is "" until there is some."""

    devbox_id: str
    execution_id: str
    status: str
    stdout: Text = ""
    stderr: Text = ""
    exit_status: int | None = None


class Blueprint(WireModel):
    """A blueprint (BlueprintView), reduced to what rlstate reads."""

    id: str
    name: str
    status: str
    create_time_ms: int
    metadata: StrMap = Field(default_factory=dict)
    failure_reason: str | None = None
    base_blueprint_id: str | None = None
    parameters: dict[str, Any] | None = None  # what it was built from; None: not echoed


class BlueprintLogLine(WireModel):
    """One line of a blueprint's build log."""

    message: Text = ""
    level: str | None = None


class BlueprintLogs(WireModel):
    """The answer of GET /v1/blueprints/{id}/logs."""

    logs: list[BlueprintLogLine] = Field(default_factory=list)


class DevboxPage(WireModel):
    """One page of GET /v1/devboxes."""

    devboxes: list[Devbox]
    has_more: bool = False


class SnapshotPage(WireModel):
    """One page of GET /v1/devboxes/disk_snapshots."""

    snapshots: list[Snapshot]
    has_more: bool = False


class ObjectPage(WireModel):
    """One page of GET /v1/objects."""

    objects: list[StorageObject]
    has_more: bool = False


class BlueprintPage(WireModel):
    """One page of GET /v1/blueprints."""

    blueprints: list[Blueprint]
    has_more: bool = False


class DownloadUrl(WireModel):
    """The answer of GET /v1/objects/{id}/download."""

    download_url: str
