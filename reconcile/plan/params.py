"""What each (resource, kind) of plan action carries, as frozen dataclasses; no I/O.

The planner builds these and the operations read them, so mypy checks the plan → apply
contract. In the plan file each is a JSON object of its fields in declaration order (a field
that is a dataclass nests as an object); `params_from_json` reads it back for the action's
resource and kind; a field with a default (one added after plan files existed) may be absent.
Strings may hold `${…}` placeholders (see plan/model.py).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields, is_dataclass
from typing import Any, TypeAlias, TypeVar

from reconcile.errors import PlanFileError


@dataclass(frozen=True)
class NoParams:
    """Actions that need only their resource id: suspend, resume, prune, object/snapshot delete."""


@dataclass(frozen=True)
class FinalSnapshot:
    """The snapshot taken of a devbox before it is destroyed (`snapshot_before_destroy`);
    `series` is None when it joins no series."""

    series: str | None
    name: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class DevboxCreate:
    """devbox create / restore: the POST body, setup commands, the state to settle in, and the
    metadata that marks it ready once setup succeeded (None: the body already says ready)."""

    body: dict[str, Any]
    setup: tuple[str, ...]
    state: str
    ready_metadata: dict[str, str] | None


@dataclass(frozen=True)
class DevboxReplace(DevboxCreate):
    """devbox replace: a create, then the old devbox's final snapshot and shutdown."""

    old_id: str
    final_snapshot: FinalSnapshot | None


@dataclass(frozen=True)
class DevboxUpdate:
    """devbox update in place: its name and full metadata."""

    name: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class DevboxDelete:
    """devbox delete: the final snapshot to take first, if any."""

    final_snapshot: FinalSnapshot | None


@dataclass(frozen=True)
class DevboxAdopt:
    """devbox adopt: the name and full metadata (the user's plus rlstate's marks) written in
    place on a devbox rlstate did not create."""

    name: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class SnapshotAdopt:
    """snapshot adopt: the series it joins, its full metadata (its own plus the marks) and the
    name it has, sent back with the metadata (the API's update replaces what it is given)."""

    series: str
    metadata: dict[str, str]
    name: str | None = None  # absent in plan files written before it was carried


@dataclass(frozen=True)
class ObjectCreate:
    """object create: the file to upload (checked against its planned sha256) and the object."""

    name: str
    content_type: str
    metadata: dict[str, str]
    ttl_ms: int | None
    file: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ObjectReplace(ObjectCreate):
    """object replace: a create whose old object a later action deletes."""

    old_id: str


@dataclass(frozen=True)
class SnapshotTake:
    """snapshot of a series: the devbox (id or placeholder), the snapshot's name and metadata."""

    series: str
    devbox: str
    name: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class BlueprintBuild:
    """blueprint build: the POST /v1/blueprints body (its metadata carries the build's hash);
    `wait_for`: an id of a build of the same hash already under way, waited for instead."""

    body: dict[str, Any]
    wait_for: str | None


@dataclass(frozen=True)
class SnapshotMark:
    """snapshot mark (a prune under a grace period): the whole metadata to write, which is the
    listed metadata plus `rlstate.delete_after` (the API replaces the map), that time, and the
    snapshot's listed name, written back with the metadata so that it stays."""

    delete_after: str
    metadata: dict[str, str]
    name: str | None = None  # absent in plan files written before it was carried


ActionParams: TypeAlias = (
    NoParams
    | DevboxCreate
    | DevboxReplace
    | DevboxUpdate
    | DevboxDelete
    | DevboxAdopt
    | SnapshotAdopt
    | ObjectCreate
    | ObjectReplace
    | SnapshotTake
    | BlueprintBuild
    | SnapshotMark
)
P = TypeVar("P", bound=ActionParams)

PARAMS_OF: dict[tuple[str, str], type[ActionParams]] = {
    ("devbox", "create"): DevboxCreate,
    ("devbox", "restore"): DevboxCreate,
    ("devbox", "replace"): DevboxReplace,
    ("devbox", "update"): DevboxUpdate,
    ("devbox", "delete"): DevboxDelete,
    ("devbox", "adopt"): DevboxAdopt,
    ("snapshot", "adopt"): SnapshotAdopt,
    ("object", "create"): ObjectCreate,
    ("object", "replace"): ObjectReplace,
    ("snapshot", "snapshot"): SnapshotTake,
    ("blueprint", "build"): BlueprintBuild,
    ("snapshot", "mark"): SnapshotMark,
}
_NESTED: dict[str, type[FinalSnapshot]] = {"final_snapshot": FinalSnapshot}
_TUPLES = frozenset({"setup"})


def params_type(resource: str, kind: str) -> type[ActionParams]:
    """The params class of a (resource, kind); NoParams for those that carry none."""
    return PARAMS_OF.get((resource, kind), NoParams)


def params_to_json(params: object) -> dict[str, Any]:
    """The params as a JSON object; values are shared, not copied (treat as read-only)."""
    data: dict[str, Any] = {}
    for f in fields(params):  # type: ignore[arg-type]
        value = getattr(params, f.name)
        if is_dataclass(value):
            value = params_to_json(value)
        elif isinstance(value, tuple):
            value = list(value)
        data[f.name] = value
    return data


def params_from_json(resource: str, kind: str, data: object) -> ActionParams:
    """The typed params of an action read from a plan file; PlanFileError when they do not fit."""
    cls = params_type(resource, kind)
    if not isinstance(data, dict):
        raise PlanFileError(f"params of a {resource} {kind} is not a JSON object")
    built: ActionParams = _build(cls, data, f"{resource} {kind}")
    return built


def _build(cls: type[Any], data: dict[str, Any], what: str) -> Any:
    names = {f.name for f in fields(cls)}
    optional = {f.name for f in fields(cls) if f.default is not MISSING}  # added later
    if not set(data) <= names or not names - optional <= set(data):
        odd = sorted(set(data) - names | (names - optional - set(data)))
        raise PlanFileError(f"params of a {what} do not fit: {', '.join(odd)}")
    values = dict(data)
    for name, nested in _NESTED.items():
        if values.get(name) is not None and name in names:
            if not isinstance(values[name], dict):
                raise PlanFileError(f"params of a {what}: {name} is not a JSON object")
            values[name] = _build(nested, values[name], what)
    for name in _TUPLES & names:
        values[name] = tuple(values[name] or ())
    return cls(**values)


def params_as(params: ActionParams, cls: type[P], action_id: str) -> P:
    """`params` as `cls`; PlanFileError when the action carries something else."""
    if not isinstance(params, cls):
        raise PlanFileError(
            f"action {action_id!r} carries {type(params).__name__}, not {cls.__name__}"
        )
    return params
