"""The manifest's typed shape (version 1): pydantic models with extra fields forbidden; no I/O.

Cross-field rules that need the whole document (references, cycles) live in `validation.py`;
reading YAML with line numbers lives in `loader.py`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

DURATION_RE = re.compile(r"^([0-9]+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
ENV_REF_RE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
NAME_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$"
STACK_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"

ResourceSize = Literal["X_SMALL", "SMALL", "MEDIUM", "LARGE", "X_LARGE", "XX_LARGE"]
Architecture = Literal["x86_64", "arm64"]
ContentType = Literal["unspecified", "text", "binary", "gzip", "tar", "tgz"]


def parse_duration(value: object) -> timedelta:
    """`90s`, `30m`, `1h`, `30d`, `2w` → timedelta; anything else is a ValueError."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"a duration needs a unit, e.g. {value}s (units: s, m, h, d, w)")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like 30m, 1h, 7d (got {type(value).__name__})")
    match = DURATION_RE.match(value.strip())
    if match is None:
        raise ValueError(f"bad duration {value!r}: use <int><unit> with unit s, m, h, d or w")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest `<int><unit>` spelling of a duration (the inverse of parse_duration)."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    Field(json_schema_extra={"type": "string", "pattern": DURATION_RE.pattern}),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
StrMap = dict[str, str]


class Strict(BaseModel):
    """Base of every manifest model: unknown fields are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ObjectSpec(Strict):
    """A storage object made from a local file (relative to the manifest's folder)."""

    path: str
    content_type: ContentType | None = None
    ttl: Duration | None = None
    metadata: StrMap = Field(default_factory=dict)


class IdleSpec(Strict):
    """What happens after a devbox is idle for a while."""

    after: Duration
    action: Literal["suspend", "shutdown"]


class MountSpec(Strict):
    """An object of this manifest (or an obj_ id) placed at an absolute path in the devbox."""

    object: str
    path: Annotated[str, Field(pattern=r"^/")]


class DevboxLifecycle(Strict):
    """Guards around destroying or replacing a devbox."""

    prevent_destroy: bool = False
    snapshot_before_destroy: bool = False
    ignore_changes: list[str] = Field(default_factory=list)


class DefaultsSpec(Strict):
    """Settings merged under every devbox (the devbox's own value wins)."""

    blueprint: str | None = None
    resource_size: ResourceSize | None = None
    architecture: Architecture | None = None
    keep_alive: Duration | None = None
    idle: IdleSpec | None = None
    env: StrMap = Field(default_factory=dict)
    launch_commands: list[str] | None = None
    metadata: StrMap = Field(default_factory=dict)


class DevboxSpec(Strict):
    """One devbox (or `replicas` of them) as the user wants it."""

    blueprint: str | None = None
    from_snapshot: str | None = None
    replicas: Annotated[int, Field(ge=1, le=1000)] | None = None
    resource_size: ResourceSize | None = None
    architecture: Architecture | None = None
    keep_alive: Duration | None = None
    idle: IdleSpec | None = None
    env: StrMap = Field(default_factory=dict)
    launch_commands: list[str] | None = None
    metadata: StrMap = Field(default_factory=dict)
    mounts: list[MountSpec] = Field(default_factory=list)
    setup: list[str] = Field(default_factory=list)
    state: Literal["running", "suspended"] = "running"
    lifecycle: DevboxLifecycle = Field(default_factory=DevboxLifecycle)


class KeepSpec(Strict):
    """Retention rules of a snapshot series; the union of all rules is kept."""

    last: Annotated[int, Field(ge=0)] = 0
    hourly: Annotated[int, Field(ge=0)] = 0
    daily: Annotated[int, Field(ge=0)] = 0
    weekly: Annotated[int, Field(ge=0)] = 0
    monthly: Annotated[int, Field(ge=0)] = 0
    yearly: Annotated[int, Field(ge=0)] = 0
    within: Duration | None = None

    def is_empty(self) -> bool:
        counts = (self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly)
        no_within = self.within is None or self.within.total_seconds() == 0
        return not any(counts) and no_within


class SeriesLifecycle(Strict):
    """Guards around deleting a series' snapshots."""

    prevent_destroy: bool = False


class SeriesSpec(Strict):
    """A snapshot series of one devbox (of this manifest, or an external dbx_ id)."""

    devbox: str
    every: Duration | None = None
    keep: KeepSpec
    prune_unmanaged: bool = False
    lifecycle: SeriesLifecycle = Field(default_factory=SeriesLifecycle)


class MovedSpec(Strict):
    """A rename that keeps the live resource: `devbox.old` → `devbox.new`."""

    from_: str = Field(alias="from", pattern=r"^(devbox|object|snapshot)\.[A-Za-z0-9_.-]+$")
    to: str = Field(pattern=r"^(devbox|object|snapshot)\.[A-Za-z0-9_.-]+$")


class Manifest(Strict):
    """A whole manifest: the desired state of one stack."""

    version: Literal[1]
    stack: Annotated[str, Field(pattern=STACK_PATTERN)]
    defaults: DefaultsSpec = Field(default_factory=DefaultsSpec)
    objects: dict[Name, ObjectSpec] = Field(default_factory=dict)
    devboxes: dict[Name, DevboxSpec] = Field(default_factory=dict)
    snapshots: dict[Name, SeriesSpec] = Field(default_factory=dict)
    moved: list[MovedSpec] = Field(default_factory=list)


def env_references(value: str) -> list[str]:
    """Names of the environment variables a `${env:NAME}` template refers to."""
    return ENV_REF_RE.findall(value)


def resolve_env_template(value: str, environ: dict[str, str] | Any) -> str:
    """Replace every `${env:NAME}` in value by its value in environ (KeyError if unset)."""
    return ENV_REF_RE.sub(lambda m: str(environ[m.group(1)]), value)


def manifest_json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema, for editors' YAML language servers."""
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rlstate manifest (version 1)"
    return schema
