"""The manifest expanded into desired resources: defaults merged, replicas fanned out, specs hashed.

Pure: takes a loaded manifest and returns values. The API does not echo env, mounts or setup,
so each devbox's replacement-forcing fields are hashed one by one into its metadata
(`rlstate.fields`), which is how a plan can say which field forces a replacement.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconcile.live.model import (
    KEY_FIELDS,
    KEY_GROUP,
    KEY_KIND,
    KEY_NAME,
    KEY_PROTECT,
    KEY_READY,
    KEY_REPLICA,
    KEY_SERIES,
    KEY_SHA256,
    KEY_SPEC,
    KEY_STACK,
)
from reconcile.manifest.schema import DevboxSpec, Manifest

if TYPE_CHECKING:
    from reconcile.manifest import LoadedManifest

FORCING_FIELDS = (
    "blueprint",
    "from_snapshot",
    "resource_size",
    "architecture",
    "keep_alive",
    "idle",
    "env",
    "launch_commands",
    "mounts",
    "setup",
)


def digest(data: Any, length: int = 8) -> str:
    """A short, stable hash of JSON-able data."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def encode_fields(fields: dict[str, str]) -> str:
    return ",".join(f"{name}:{value}" for name, value in sorted(fields.items()))


def decode_fields(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    pairs = (item.split(":", 1) for item in text.split(",") if ":" in item)
    return {name: value for name, value in pairs}


@dataclass(frozen=True)
class DesiredDevbox:
    """One devbox the manifest asks for (a replica counts as one)."""

    address: str
    name: str
    group: str
    replica: int | None
    spec: DevboxSpec
    fields: dict[str, str]
    spec_hash: str
    source_series: str | None
    source_snapshot: str | None

    @property
    def protected(self) -> bool:
        return self.spec.lifecycle.prevent_destroy


@dataclass(frozen=True)
class DesiredObject:
    """One storage object the manifest asks for."""

    address: str
    name: str
    path: str
    sha256: str
    size: int
    content_type: str
    ttl_ms: int | None
    user_metadata: dict[str, str]
    spec_hash: str


def merged_devbox(manifest: Manifest, spec: DevboxSpec) -> DevboxSpec:
    """The devbox spec with `defaults` merged under it (the devbox's own values win)."""
    d = manifest.defaults
    updates: dict[str, Any] = {}
    for name in (
        "blueprint",
        "resource_size",
        "architecture",
        "keep_alive",
        "idle",
        "launch_commands",
    ):
        if getattr(spec, name) is None and getattr(d, name) is not None:
            updates[name] = getattr(d, name)
    if spec.from_snapshot:
        updates.pop("blueprint", None)  # one image source: the snapshot wins over a default
    updates["env"] = {**d.env, **spec.env}
    updates["metadata"] = {**d.metadata, **spec.metadata}
    return spec.model_copy(update=updates)


def _field_values(
    loaded: LoadedManifest, spec: DevboxSpec, builds: dict[str, str]
) -> dict[str, Any]:
    objects = loaded.objects
    # A declared blueprint stands for its build's hash: a rebuild replaces the devbox.
    blueprint = ["build", builds[spec.blueprint]] if spec.blueprint in builds else spec.blueprint
    return {
        "blueprint": blueprint,
        "from_snapshot": spec.from_snapshot,
        "resource_size": spec.resource_size,
        "architecture": spec.architecture,
        "keep_alive": int(spec.keep_alive.total_seconds()) if spec.keep_alive else None,
        "idle": [int(spec.idle.after.total_seconds()), spec.idle.action] if spec.idle else None,
        "env": {k: loaded.resolve(v) for k, v in sorted(spec.env.items())},
        "launch_commands": spec.launch_commands,
        "mounts": [
            [objects[m.object].sha256 if m.object in objects else m.object, m.path]
            for m in spec.mounts
        ],
        "setup": spec.setup,
    }


def desired_devboxes(loaded: LoadedManifest) -> list[DesiredDevbox]:
    """Every devbox address the manifest asks for, replicas expanded, in manifest order."""
    from reconcile.plan.blueprints import blueprint_hashes

    manifest = loaded.manifest
    builds = blueprint_hashes(loaded)
    out: list[DesiredDevbox] = []
    for group, raw in manifest.devboxes.items():
        spec = merged_devbox(manifest, raw)
        values = _field_values(loaded, spec, builds)
        fields = {name: digest(values[name]) for name in FORCING_FIELDS}
        series = spec.from_snapshot if spec.from_snapshot in manifest.snapshots else None
        snap = spec.from_snapshot if spec.from_snapshot and series is None else None
        names = (
            [(f"{group}-{i}", i) for i in range(spec.replicas)]
            if spec.replicas is not None
            else [(group, None)]
        )
        for name, replica in names:
            out.append(
                DesiredDevbox(
                    f"devbox.{name}",
                    name,
                    group,
                    replica,
                    spec,
                    fields,
                    digest(fields, 16),
                    series,
                    snap,
                )
            )
    return out


def desired_objects(loaded: LoadedManifest) -> list[DesiredObject]:
    """Every storage object the manifest asks for, with its content hash."""
    out = []
    for name, spec in loaded.manifest.objects.items():
        info = loaded.objects[name]
        ttl_ms = int(spec.ttl.total_seconds() * 1000) if spec.ttl else None
        meta = dict(spec.metadata)
        spec_hash = digest([info.sha256, info.content_type, ttl_ms, meta], 16)
        out.append(
            DesiredObject(
                f"object.{name}",
                name,
                str(info.path),
                info.sha256,
                info.size,
                info.content_type,
                ttl_ms,
                meta,
                spec_hash,
            )
        )
    return out


def devbox_metadata(stack: str, want: DesiredDevbox, *, ready: bool) -> dict[str, str]:
    """The full metadata a devbox of this stack carries: the user's plus rlstate's marks."""
    meta = dict(want.spec.metadata)
    meta.update(
        {
            KEY_STACK: stack,
            KEY_KIND: "devbox",
            KEY_NAME: want.name,
            KEY_SPEC: want.spec_hash,
            KEY_FIELDS: encode_fields(want.fields),
            KEY_READY: "true" if ready else "false",
        }
    )
    if want.replica is not None:
        meta.update({KEY_GROUP: want.group, KEY_REPLICA: str(want.replica)})
    if want.protected:
        meta[KEY_PROTECT] = "true"
    return meta


def object_metadata(stack: str, want: DesiredObject) -> dict[str, str]:
    meta = dict(want.user_metadata)
    meta.update(
        {
            KEY_STACK: stack,
            KEY_KIND: "object",
            KEY_NAME: want.name,
            KEY_SHA256: want.sha256,
            KEY_SPEC: want.spec_hash,
        }
    )
    return meta


def snapshot_metadata(stack: str, series: str, *, protect: bool) -> dict[str, str]:
    meta = {KEY_STACK: stack, KEY_KIND: "snapshot", KEY_NAME: series, KEY_SERIES: series}
    if protect:
        meta[KEY_PROTECT] = "true"
    return meta


def devbox_create_body(
    loaded: LoadedManifest, want: DesiredDevbox, object_ids: dict[str, str], snapshot_id: str | None
) -> dict[str, Any]:
    """The POST /v1/devboxes body; sensitive env stays a `${env:}` template for the executor."""
    spec = want.spec
    launch: dict[str, Any] = {}
    if spec.resource_size:
        launch["resource_size_request"] = spec.resource_size
    if spec.architecture:
        launch["architecture"] = spec.architecture
    if spec.keep_alive:
        launch["keep_alive_time_seconds"] = int(spec.keep_alive.total_seconds())
    if spec.idle:
        launch["after_idle"] = {
            "idle_time_seconds": int(spec.idle.after.total_seconds()),
            "on_idle": spec.idle.action,
        }
    if spec.launch_commands:
        launch["launch_commands"] = list(spec.launch_commands)
    body: dict[str, Any] = {"name": want.name, "metadata": {}}
    if snapshot_id:
        body["snapshot_id"] = snapshot_id
    elif spec.blueprint:
        key = "blueprint_id" if spec.blueprint.startswith("bpt_") else "blueprint_name"
        body[key] = spec.blueprint
    if spec.env:
        body["environment_variables"] = dict(spec.env)
    if launch:
        body["launch_parameters"] = launch
    if spec.mounts:
        body["mounts"] = [
            {
                "type": "object_mount",
                "object_id": object_ids.get(m.object, m.object),
                "object_path": m.path,
            }
            for m in spec.mounts
        ]
    return body
