"""The manifest's typed shape (version 1): pydantic models with extra fields forbidden; no I/O.

Cross-field rules that need the whole document (references, cycles) live in `validation.py`;
reading YAML with line numbers lives in `loader.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from reconcile.manifest import quiet_pydantic
from reconcile.manifest.blueprint_schema import BlueprintSpec

# The scalar spellings live in scalars.py (no pydantic); re-exported for the modules that know
# them from here.
from reconcile.manifest.scalars import DURATION_RE as DURATION_RE
from reconcile.manifest.scalars import ENV_REF_RE as ENV_REF_RE
from reconcile.manifest.scalars import NAME_PATTERN as NAME_PATTERN
from reconcile.manifest.scalars import PERCENT_RE as PERCENT_RE
from reconcile.manifest.scalars import STACK_PATTERN as STACK_PATTERN
from reconcile.manifest.scalars import Architecture as Architecture
from reconcile.manifest.scalars import ContentType as ContentType
from reconcile.manifest.scalars import ResourceSize as ResourceSize
from reconcile.manifest.scalars import duration_spelling as duration_spelling
from reconcile.manifest.scalars import env_references as env_references
from reconcile.manifest.scalars import parse_duration as parse_duration
from reconcile.manifest.scalars import parse_percent as parse_percent
from reconcile.manifest.scalars import percent_spelling as percent_spelling
from reconcile.manifest.scalars import resolve_env_template as resolve_env_template

quiet_pydantic.plugins_off()  # until the end of this module: its models are built as it runs

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(duration_spelling, return_type=str),
    # Not pydantic's own timedelta schema: its `format: duration` means ISO 8601 (P1D).
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_RE.pattern,
            "description": "A duration: <int><unit>, unit s, m, h, d or w (90s, 30m, 1h, 7d).",
        }
    ),
]
Percent = Annotated[
    float,
    BeforeValidator(parse_percent),
    PlainSerializer(percent_spelling, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PERCENT_RE.pattern,
            "description": "A percentage from 0% to 100%, e.g. 50%.",
        }
    ),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
StrMap = dict[str, str]


class Strict(BaseModel):
    """Base of every manifest model: unknown fields are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ObjectSpec(Strict):
    """A storage object made from a local file (relative to the manifest's folder)."""

    path: str = Field(description="Local file, relative to the manifest's folder.")
    content_type: ContentType | None = Field(
        None, description="Content type; inferred from the file name when absent."
    )
    ttl: Duration | None = Field(None, description="Delete the object this long after creation.")
    metadata: StrMap = Field(default_factory=dict, description="Extra metadata (string → string).")


class IdleSpec(Strict):
    """What happens after a devbox is idle for a while."""

    after: Duration = Field(description="How long the devbox must be idle.")
    action: Literal["suspend", "shutdown"] = Field(description="What happens then.")


class MountSpec(Strict):
    """An object of this manifest (or an obj_ id) placed at an absolute path in the devbox."""

    object: str = Field(description="An object of this manifest, or an obj_ id.")
    path: Annotated[str, Field(pattern=r"^/")] = Field(
        description="Absolute path in the devbox (archives are unpacked into it)."
    )


class DevboxLifecycle(Strict):
    """Guards around destroying or replacing a devbox."""

    prevent_destroy: bool = Field(
        False, description="Refuse any plan that deletes or replaces this devbox."
    )
    snapshot_before_destroy: bool = Field(
        False, description="Take a final snapshot before deleting or replacing it."
    )
    ignore_changes: list[str] = Field(
        default_factory=list, description="Devbox fields whose changes never force replacement."
    )


class DefaultsSpec(Strict):
    """Settings merged under every devbox (the devbox's own value wins)."""

    blueprint: str | None = Field(
        None, description="A blueprint of this manifest, an external blueprint name, or a bpt_ id."
    )
    resource_size: ResourceSize | None = Field(None, description="Devbox size (default SMALL).")
    architecture: Architecture | None = Field(None, description="CPU architecture.")
    keep_alive: Duration | None = Field(
        None, description="Shut down after this long (at most 48h); ignored with idle."
    )
    idle: IdleSpec | None = Field(None, description="Suspend or shut down after idling.")
    env: StrMap = Field(
        default_factory=dict,
        description="Environment variables; ${env:NAME} reads NAME at plan time (sensitive).",
    )
    launch_commands: list[str] | None = Field(
        None, description="Run at every boot and resume, before the entrypoint."
    )
    metadata: StrMap = Field(default_factory=dict, description="Extra metadata (string → string).")


class DevboxSpec(Strict):
    """One devbox (or `replicas` of them) as the user wants it."""

    blueprint: str | None = Field(
        None, description="A blueprint of this manifest, an external blueprint name, or a bpt_ id."
    )
    from_snapshot: str | None = Field(
        None, description="Start from a snapshot series of this manifest (newest), or a snp_ id."
    )
    replicas: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        None, description="Run NAME-0 … NAME-(n-1), all alike."
    )
    resource_size: ResourceSize | None = Field(None, description="Devbox size (default SMALL).")
    architecture: Architecture | None = Field(None, description="CPU architecture.")
    keep_alive: Duration | None = Field(
        None, description="Shut down after this long (at most 48h); ignored with idle."
    )
    idle: IdleSpec | None = Field(None, description="Suspend or shut down after idling.")
    env: StrMap = Field(
        default_factory=dict,
        description="Environment variables; ${env:NAME} reads NAME at plan time (sensitive).",
    )
    launch_commands: list[str] | None = Field(
        None, description="Run at every boot and resume, before the entrypoint."
    )
    metadata: StrMap = Field(default_factory=dict, description="Extra metadata (string → string).")
    mounts: list[MountSpec] = Field(default_factory=list, description="Objects to place.")
    setup: list[str] = Field(
        default_factory=list, description="Run once, in order, after the devbox first runs."
    )
    state: Literal["running", "suspended"] = Field("running", description="Desired state.")
    lifecycle: DevboxLifecycle = Field(
        default_factory=DevboxLifecycle, description="Guards around destroy and replace."
    )


class KeepSpec(Strict):
    """Retention rules of a snapshot series; the union of all rules is kept."""

    last: Annotated[int, Field(ge=0, description="Keep the newest N complete snapshots.")] = 0
    hourly: Annotated[
        int,
        Field(
            ge=0, description="Keep the newest snapshot of each of the last N hours that have one."
        ),
    ] = 0
    daily: Annotated[
        int, Field(ge=0, description="… of each of the last N days (UTC) that have one.")
    ] = 0
    weekly: Annotated[
        int, Field(ge=0, description="… of each of the last N weeks that have one.")
    ] = 0
    monthly: Annotated[
        int, Field(ge=0, description="… of each of the last N months that have one.")
    ] = 0
    yearly: Annotated[
        int, Field(ge=0, description="… of each of the last N years that have one.")
    ] = 0
    within: Duration | None = Field(
        None, description="Keep everything this close to the newest complete snapshot."
    )

    def is_empty(self) -> bool:
        counts = (self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly)
        no_within = self.within is None or self.within.total_seconds() == 0
        return not any(counts) and no_within


class SeriesLifecycle(Strict):
    """Guards around deleting a series' snapshots."""

    prevent_destroy: bool = Field(False, description="Never delete this series' snapshots.")


class PruneSpec(Strict):
    """How a series' prunes are carried out."""

    grace: Duration | None = Field(
        None,
        description="Mark pruned snapshots for deletion this much later instead of deleting"
        " them now; `rlstate undelete` clears the marks in between.",
    )


class VerifySpec(Strict):
    """A verified restore: restore the newest complete snapshot into a throwaway devbox and run a
    command there; exit 0 stamps the snapshot verified."""

    command: str = Field(min_length=1, description="Run in the restored devbox; 0 means it works.")
    every: Duration = Field(
        default_factory=lambda: timedelta(days=7),
        description="Verify again when the newest verification is this old.",
    )
    timeout: Duration = Field(
        default_factory=lambda: timedelta(minutes=10),
        description="Give up on the command (a failure) after this long.",
    )


class SeriesSpec(Strict):
    """A snapshot series of one devbox (of this manifest, or an external dbx_ id)."""

    devbox: str = Field(description="A devbox of this manifest (without replicas), or a dbx_ id.")
    every: Duration | None = Field(
        None, description="A new snapshot is due when the newest complete one is this old."
    )
    keep: KeepSpec = Field(description="Retention; the union of all rules is kept.")
    prune_unmanaged: bool = Field(
        False, description="Also prune snapshots of the devbox that rlstate did not take."
    )
    lifecycle: SeriesLifecycle = Field(default_factory=SeriesLifecycle)
    prune: PruneSpec = Field(default_factory=PruneSpec)
    max_prune: Percent = Field(
        0.5,
        description="A run that would prune more than this share of the series' complete"
        " snapshots at once refuses for the series (unless --allow-shrink).",
    )
    verify: VerifySpec | None = Field(
        None, description="Prove now and then that the newest complete snapshot restores."
    )
    alert_after: Duration | None = Field(
        None,
        description="`rlstate check` warns when the newest complete snapshot is older than"
        " this (default: twice `every`).",
    )


class MovedSpec(Strict):
    """A rename that keeps the live resource: `devbox.old` → `devbox.new`."""

    from_: str = Field(alias="from", pattern=r"^(devbox|object|snapshot)\.[A-Za-z0-9_.-]+$")
    to: str = Field(pattern=r"^(devbox|object|snapshot)\.[A-Za-z0-9_.-]+$")


class ImportSpec(Strict):
    """Bring a live resource rlstate did not create under this manifest (adoption).

    `to: devbox.NAME, id: dbx_…` adopts a devbox; `to: object.NAME, id: obj_…` an object whose
    bytes match the manifest's file; `to: blueprint.NAME, id: bpt_…` a build whose echoed
    definition is the declared blueprint's; `to: snapshot.SERIES, devbox: dbx_…` the existing
    snapshots of a devbox into a series."""

    to: str = Field(
        pattern=r"^(devbox|object|snapshot|blueprint)\.[A-Za-z0-9_.-]+$",
        description="The manifest resource to adopt into: devbox.NAME, object.NAME, "
        "snapshot.NAME, blueprint.NAME.",
    )
    id: str | None = Field(None, description="The live resource's id (dbx_…, obj_… or bpt_…).")
    devbox: str | None = Field(
        None, description="For snapshot.SERIES: the dbx_ id whose existing snapshots join it."
    )


class PostgresBackendSpec(Strict):
    """A PostgreSQL database holding the stack lock and the run history."""

    url: str = Field(
        description="postgresql://USER@HOST:PORT/DATABASE; ${env:NAME} reads it from the "
        "environment (keep the password out of the manifest)."
    )


class BackendSpec(Strict):
    """Where the stack lock (and run history) lives; without it, a lock file beside the manifest."""

    postgres: PostgresBackendSpec | None = Field(
        None, description="A session advisory lock and run history in PostgreSQL."
    )


class Manifest(Strict):
    """A whole manifest: the desired state of one stack."""

    version: Literal[1] = Field(description="Manifest format version; only 1 exists.")
    backend: BackendSpec | None = Field(
        None, description="The shared stack lock and run history (--backend-url overrides)."
    )
    stack: Annotated[str, Field(pattern=STACK_PATTERN)] = Field(
        description="The ownership scope: every resource rlstate creates is tagged with it."
    )
    defaults: DefaultsSpec = Field(
        default_factory=DefaultsSpec, description="Merged under every devbox (devbox wins)."
    )
    objects: dict[Name, ObjectSpec] = Field(
        default_factory=dict, description="Storage objects made from local files, by name."
    )
    devboxes: dict[Name, DevboxSpec] = Field(default_factory=dict, description="Devboxes, by name.")
    blueprints: dict[Name, BlueprintSpec] = Field(
        default_factory=dict, description="Blueprints rlstate builds, by name."
    )
    snapshots: dict[Name, SeriesSpec] = Field(
        default_factory=dict, description="Snapshot series, by name."
    )
    moved: list[MovedSpec] = Field(
        default_factory=list, description="Renames that keep the live resource."
    )
    imports: list[ImportSpec] = Field(
        default_factory=list,
        alias="import",
        description="Live resources rlstate did not create, adopted by the next apply.",
    )


def manifest_json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema, for editors' YAML language servers."""
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rlstate manifest (version 1)"
    for section in ("objects", "devboxes", "blueprints", "snapshots"):
        # pydantic lets keys that miss the name pattern through; an editor should flag them.
        schema["properties"][section]["additionalProperties"] = False
    return schema


quiet_pydantic.plugins_restored()
