"""Writes a manifest, with `import:` entries and comments, from devboxes, snapshots and
blueprints as the API lists them. Pure: values in, YAML text out; no API calls, no files.

Everything written is what the API echoes, so the adopting apply finds no difference for it;
what it does not echo (env, setup, mounts) is left to the user, said in a comment. Each
series keeps every snapshot that exists today, so the first plans prune nothing. The builds
the devboxes start from are declared blueprints (blueprints.py), adopted by their definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml

from reconcile.api.models import Blueprint, Devbox, Snapshot
from reconcile.generate.blueprints import DeclaredBlueprints, declare_blueprints
from reconcile.generate.names import manifest_name
from reconcile.live.model import OWNERSHIP_PREFIX
from reconcile.manifest.schema import duration_spelling

MAX_KEEP_ALIVE_SECONDS = 48 * 3600
SIZES = frozenset({"X_SMALL", "SMALL", "MEDIUM", "LARGE", "X_LARGE", "XX_LARGE"})
ARCHITECTURES = frozenset({"x86_64", "arm64"})
NOT_ECHOED = "# env, setup, mounts: not readable from the API; add them here if it has any"
NOT_ECHOED_HEAD = (
    "  # The API does not echo env, setup or mounts, so they are not written below. Add what a\n"
    "  # devbox has: the adopting apply takes the manifest's values as the baseline (nothing is\n"
    "  # compared or replaced for them); a later change to them replaces the devbox as usual."
)

BLUEPRINTS_HEAD = (
    "  # The builds these devboxes start from, as the API echoes what they were built from.\n"
    "  # The adopting plan compares each with its import entry's build and uses that build as\n"
    "  # it is (no build) when they are equal; keep the import entries while devboxes use them."
)


@dataclass(frozen=True)
class Account:
    """What generate read: the chosen devboxes, their snapshots, the account's blueprints."""

    devboxes: tuple[Devbox, ...]
    snapshots: tuple[Snapshot, ...] = ()
    blueprints: tuple[Blueprint, ...] = ()
    skipped: tuple[str, ...] = ()  # devboxes left out, with why (another stack owns them)


@dataclass
class _Written:
    devboxes: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    imports: list[dict[str, str]] = field(default_factory=list)


def render_manifest(account: Account, stack: str, source: str) -> str:
    """The manifest's text: header, devboxes, snapshot series, import entries."""
    written = _Written()
    taken: set[str] = set()
    used = [b.blueprint_id for b in account.devboxes if b.blueprint_id and not b.snapshot_id]
    blueprints = declare_blueprints(used, account.blueprints)
    names = {**blueprints.named, **blueprints.declared}
    by_devbox: dict[str, list[Snapshot]] = {}
    for snap in account.snapshots:
        if not any(k.startswith(OWNERSHIP_PREFIX) for k in snap.metadata):
            by_devbox.setdefault(snap.source_devbox_id or "", []).append(snap)
    for box in sorted(account.devboxes, key=lambda d: ((d.name or "").lower(), d.id)):
        key = manifest_name(box.name, box.id, taken)
        spec, notes = devbox_spec(box, names)
        written.devboxes[key] = spec
        written.comments[key] = notes
        written.imports.append({"to": f"devbox.{key}", "id": box.id})
        snaps = by_devbox.get(box.id, [])
        if snaps:
            written.series[key] = {"devbox": key, "keep": {"last": len(snaps)}}
            written.imports.append({"to": f"snapshot.{key}", "devbox": box.id})
    return _text(account, stack, source, written, blueprints)


def devbox_spec(box: Devbox, names: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The manifest fields the API echoed for a devbox, and comments for what it could not."""
    spec: dict[str, Any] = {}
    notes: list[str] = []
    if box.snapshot_id:
        spec["from_snapshot"] = box.snapshot_id
    elif box.blueprint_id:
        spec["blueprint"] = names.get(box.blueprint_id, box.blueprint_id)
    launch = box.launch_parameters
    if launch.get("resource_size_request") in SIZES:
        spec["resource_size"] = launch["resource_size_request"]
    if launch.get("architecture") in ARCHITECTURES:
        spec["architecture"] = launch["architecture"]
    idle = launch.get("after_idle") or {}
    if idle.get("idle_time_seconds") and idle.get("on_idle") in ("suspend", "shutdown"):
        after = duration_spelling(timedelta(seconds=int(idle["idle_time_seconds"])))
        spec["idle"] = {"after": after, "action": idle["on_idle"]}
    keep_alive = launch.get("keep_alive_time_seconds")
    if isinstance(keep_alive, int) and 0 < keep_alive <= MAX_KEEP_ALIVE_SECONDS:
        spec["keep_alive"] = duration_spelling(timedelta(seconds=keep_alive))
    elif keep_alive:
        notes.append(f"# keep_alive of {keep_alive}s is beyond what a manifest takes (48h)")
    if launch.get("launch_commands"):
        spec["launch_commands"] = list(launch["launch_commands"])
    meta = {k: v for k, v in box.metadata.items() if not k.startswith(OWNERSHIP_PREFIX)}
    if meta:
        spec["metadata"] = meta
    if box.status in ("suspended", "suspending"):
        spec["state"] = "suspended"
    return spec, notes


class _Dumper(yaml.SafeDumper):
    """Multi-line text (a Dockerfile) as a literal block, as one would write it by hand."""


def _text_scalar(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _text_scalar)


def _dump(data: Any, indent: int) -> list[str]:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
    return [(" " * indent + line) if line.strip() else "" for line in text.splitlines()]


def _section(specs: dict[str, dict[str, Any]], comments: dict[str, list[str]]) -> list[str]:
    """Entries of a section, each with its comments under its name."""
    lines: list[str] = []
    for key, spec in specs.items():
        block = _dump({key: spec}, 2)
        lines.append(block[0])
        lines.extend("    " + note for note in comments.get(key, []))
        lines.extend(block[1:])
    return lines


def _text(
    account: Account, stack: str, source: str, written: _Written, bps: DeclaredBlueprints
) -> str:
    lines = [
        f"# Written by `rlstate generate` from {source}: {len(written.devboxes)} devbox(es), "
        f"{len(written.series)} snapshot series, {len(bps.specs)} blueprint(s).",
        "# Review it, then `rlstate plan` shows `= adopt` for each import entry and",
        "# `rlstate apply` stamps rlstate's metadata on them in place (nothing is recreated).",
        *[f"# left out: {why}" for why in account.skipped],
        "version: 1",
        f"stack: {stack}",
    ]
    if bps.specs or bps.unread:
        lines.append("blueprints:" if bps.specs else "blueprints: {}")
        lines.extend(BLUEPRINTS_HEAD.splitlines())
        lines.extend(f"  # not declared: {why}" for why in bps.unread)
        lines.extend(_section(bps.specs, bps.comments))
    lines.append("devboxes:" if written.devboxes else "devboxes: {}")
    if written.devboxes:
        lines.extend(NOT_ECHOED_HEAD.splitlines())
    notes = {key: [NOT_ECHOED, *written.comments[key]] for key in written.devboxes}
    lines.extend(_section(written.devboxes, notes))
    if written.series:
        lines.append("snapshots:")
        lines.append("  # each series keeps every snapshot that exists now: set your retention")
        lines.append(
            "  # (keep, and `every` for the nightly job) before the first `rlstate retain`"
        )
        lines.extend(_dump(written.series, 2))
    imports = [*bps.imports, *written.imports]
    if imports:
        lines.append("import:")
        lines.extend(_dump(imports, 2))
    return "\n".join(lines) + "\n"
