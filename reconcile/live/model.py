"""What the live API holds for one stack, as plain values; and the ownership metadata keys. No I/O.

Ownership is metadata written in each create call (kubectl ApplySet's lesson: only what carries
the stack's marks is ever changed). `LiveState` holds the stack's own resources plus, for series
with `prune_unmanaged`, the foreign snapshots of their devboxes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

KEY_STACK = "rlstate.stack"
KEY_KIND = "rlstate.kind"
KEY_NAME = "rlstate.name"
KEY_GROUP = "rlstate.group"
KEY_REPLICA = "rlstate.replica"
KEY_SERIES = "rlstate.series"
KEY_SPEC = "rlstate.spec"
KEY_FIELDS = "rlstate.fields"
KEY_PROTECT = "rlstate.protect"
KEY_TOKEN = "rlstate.token"
KEY_SOURCE = "rlstate.snapshot"
KEY_READY = "rlstate.ready"
KEY_SHA256 = "rlstate.sha256"
KEY_ADOPTED = "rlstate.adopted"  # "true": rlstate adopted it (an `import:` entry), not created it
KEY_BUILD = "rlstate.build"  # a blueprint build's hash of what defines it (plan/blueprints.py)
KEY_BUILD_FIELDS = "rlstate.build_fields"  # … and of each defining field, to say what changed
KEY_STATE = "rlstate.state"  # "complete" once rlstate saw the snapshot complete (it never reverts)
# "error" once the API refused to delete a snapshot that ended in error (the API keeps those; it
# never changes again): plans leave it alone instead of asking to delete it every run.
KEY_DELETE_REFUSED = "rlstate.delete_refused"
DELETE_REFUSED_REASON = "ended in error; the API refused to delete it"  # = retention.LEFT_REASON
# A prune with a grace period marks instead of deleting: ISO 8601 UTC time after which the next
# run deletes it (`rlstate undelete` removes the mark).
KEY_DELETE_AFTER = "rlstate.delete_after"
# The last `retain` run that acted on a series or failed: "<ISO time> ok|failed", stamped on the
# series' newest snapshot (`check` reads the newest stamp of the series).
KEY_LAST_RUN = "rlstate.last_run"
# Verified restores: when a probe restored the snapshot and the verify command exited 0; and
# "<ISO time> <why>" of the last failed verification.
KEY_VERIFIED = "rlstate.verified"
KEY_VERIFY_FAILED = "rlstate.verify_failed"
KEY_PROBE = "rlstate.probe"  # on a throwaway verify devbox (never rlstate.stack): its stack
KEY_KEEP = "rlstate.keep"  # the series' `keep` when rlstate took the snapshot (plan's cost line)
OWNERSHIP_PREFIX = "rlstate."

ACTIVE_DEVBOX = frozenset(
    {"provisioning", "initializing", "running", "suspending", "suspended", "resuming", "queued"}
)
TERMINAL_DEVBOX = frozenset({"failure", "shutdown"})

SnapshotStatus = str  # in_progress | complete | error | deleted | unread (not asked yet)


def user_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """The metadata a user wrote, without rlstate's ownership keys."""
    return {k: v for k, v in metadata.items() if not k.startswith(OWNERSHIP_PREFIX)}


@dataclass(frozen=True)
class LiveDevbox:
    """A devbox as the API lists it."""

    id: str
    name: str | None
    status: str
    create_time_ms: int
    metadata: dict[str, str] = field(default_factory=dict)
    blueprint_id: str | None = None
    snapshot_id: str | None = None
    launch: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL_DEVBOX

    @property
    def logical_name(self) -> str | None:
        return self.metadata.get(KEY_NAME)


@dataclass(frozen=True)
class LiveObject:
    """A storage object as the API lists it."""

    id: str
    name: str
    state: str
    content_type: str
    create_time_ms: int
    size_bytes: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def logical_name(self) -> str | None:
        return self.metadata.get(KEY_NAME)


@dataclass(frozen=True)
class LiveSnapshot:
    """A disk snapshot as the API lists it; `status` is `unread` until asked for."""

    id: str
    create_time_ms: int
    source_devbox_id: str
    metadata: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    size_bytes: int | None = None
    status: SnapshotStatus = "unread"
    error_message: str | None = None
    source_blueprint_id: str | None = None  # the build its devbox started from

    @property
    def series(self) -> str | None:
        return self.metadata.get(KEY_SERIES)

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.create_time_ms / 1000, tz=UTC)

    @property
    def delete_refused(self) -> bool:
        """It ended in error and the API refused to delete it (rlstate's mark says so)."""
        return self.status == "error" and self.metadata.get(KEY_DELETE_REFUSED) == "error"

    @property
    def delete_after(self) -> datetime | None:
        """When a prune with a grace period marked it to be deleted; None when unmarked (an
        unreadable mark counts as none: it never makes a snapshot go sooner)."""
        return parse_time(self.metadata.get(KEY_DELETE_AFTER))


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time rlstate wrote into metadata, as aware UTC; None if absent or bad."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def format_time(when: datetime) -> str:
    """A time as rlstate writes it into metadata: `2031-01-28T02:00:00Z`."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Imported:
    """What the manifest's `import:` entries name, read by id whoever owns it: devboxes and
    objects by id, the sha256 of each foreign object's bytes, blueprint names by id (to compare
    a devbox's blueprint), and the ids that were not found."""

    devboxes: dict[str, LiveDevbox] = field(default_factory=dict)
    objects: dict[str, LiveObject] = field(default_factory=dict)
    object_sha256: dict[str, str] = field(default_factory=dict)
    blueprint_names: dict[str, str] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LiveBlueprint:
    """A blueprint build as the API lists it (queued, building, build_complete or failed)."""

    id: str
    name: str
    status: str
    create_time_ms: int
    metadata: dict[str, str] = field(default_factory=dict)
    base_blueprint_id: str | None = None
    parameters: dict[str, Any] | None = None  # the build's echoed definition (None: not echoed)

    @property
    def logical_name(self) -> str | None:
        return self.metadata.get(KEY_NAME)

    @property
    def build_hash(self) -> str | None:
        return self.metadata.get(KEY_BUILD)


@dataclass(frozen=True)
class LiveState:
    """The stack's live resources at one moment (and what `import:` entries name)."""

    stack: str
    devboxes: tuple[LiveDevbox, ...] = ()
    objects: tuple[LiveObject, ...] = ()
    snapshots: tuple[LiveSnapshot, ...] = ()
    api_url: str = ""
    imported: Imported = field(default_factory=Imported)
    # Listed only for a manifest with a `blueprints:` section: every build the API lists
    # (reuse may pick one another stack built from the same definition).
    blueprints: tuple[LiveBlueprint, ...] = ()

    def with_statuses(self, statuses: dict[str, tuple[str, str | None]]) -> LiveState:
        """A copy with the given snapshot statuses (id → (status, error_message)) filled in."""
        snaps = tuple(
            _replace_status(s, *statuses[s.id]) if s.id in statuses else s for s in self.snapshots
        )
        return replace(self, snapshots=snaps)


def _replace_status(snap: LiveSnapshot, status: str, error: str | None) -> LiveSnapshot:
    return LiveSnapshot(
        snap.id,
        snap.create_time_ms,
        snap.source_devbox_id,
        snap.metadata,
        snap.name,
        snap.size_bytes,
        status,
        error,
        snap.source_blueprint_id,
    )


def primary_devbox_ids(stack: str, devboxes: Iterable[LiveDevbox]) -> dict[str, str]:
    """Logical name → the stack's devbox that stands for it when there are several: active,
    then set up (rlstate.ready), then the newest (the one a plan keeps)."""
    best: dict[str, LiveDevbox] = {}
    for box in devboxes:
        if not box.active or box.metadata.get(KEY_STACK) != stack or box.logical_name is None:
            continue
        current = best.get(box.logical_name)
        if current is None or _rank(box) > _rank(current):
            best[box.logical_name] = box
    return {name: box.id for name, box in best.items()}


def _rank(box: LiveDevbox) -> tuple[bool, int, str]:
    return (box.metadata.get(KEY_READY) == "true", box.create_time_ms, box.id)


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def status_bucket(status: str) -> str:
    """Devbox statuses that mean the same to a plan share a bucket (booting = up)."""
    if status in ("provisioning", "initializing", "running", "resuming", "queued"):
        return "up"
    if status in ("suspending", "suspended"):
        return "suspended"
    return status


def fingerprint(resource: LiveDevbox | LiveObject | LiveSnapshot | LiveBlueprint) -> str:
    """A short hash of what a plan decided on; apply refuses when it changed."""
    if isinstance(resource, LiveDevbox):
        data: Any = [resource.name, resource.metadata, status_bucket(resource.status)]
    elif isinstance(resource, LiveObject):
        data = [resource.name, resource.metadata, resource.state]
    elif isinstance(resource, LiveBlueprint):
        data = [resource.name, resource.metadata, resource.status]
    else:  # the completion stamp only caches a status that never changes: not a change
        data = [resource.name, {k: v for k, v in resource.metadata.items() if k != KEY_STATE}]
    return _digest(data)
