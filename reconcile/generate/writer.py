"""Writes a manifest, with `import:` entries and comments, from devboxes, snapshots and
blueprints as the API lists them. Pure: values in, YAML text out; no API calls, no files.

Everything written is what the API echoes, so the adopting apply finds no difference for it;
what it does not echo (env, setup, mounts) is left to the user, said in a comment. Each
series keeps every snapshot that exists today, so the first plans prune nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml

from reconcile.api.models import Blueprint, Devbox, Snapshot
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


def manifest_name(name: str | None, devbox_id: str, taken: set[str]) -> str:
    """A manifest name (lowercase letters, digits, - and _; at most 63) for a devbox."""
    base = re.sub(r"[^a-z0-9_-]+", "-", (name or "").lower()).strip("-_")[:55]
    if not base or base.startswith(("obj_", "snp_", "dbx_", "bpt_")):
        base = "devbox-" + re.sub(r"[^a-z0-9]", "", devbox_id.lower().removeprefix("dbx_"))[-12:]
    chosen, n = base, 2
    while chosen in taken:
        chosen, n = f"{base}-{n}", n + 1
    taken.add(chosen)
    return chosen


def render_manifest(account: Account, stack: str, source: str) -> str:
    """The manifest's text: header, devboxes, snapshot series, import entries."""
    written = _Written()
    taken: set[str] = set()
    names = _blueprint_names(account.blueprints)
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
    return _text(account, stack, source, written, names)


def _blueprint_names(blueprints: Iterable[Blueprint]) -> dict[str, str]:
    """bpt_ id → name, for names that only one blueprint has (else the id stays)."""
    listed = list(blueprints)
    count: dict[str, int] = {}
    for bpt in listed:
        count[bpt.name] = count.get(bpt.name, 0) + 1
    return {b.id: b.name for b in listed if count[b.name] == 1 and b.name}


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


def _dump(data: Any, indent: int) -> list[str]:
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)
    return [" " * indent + line for line in text.splitlines()]


def _text(
    account: Account, stack: str, source: str, written: _Written, names: dict[str, str]
) -> str:
    lines = [
        f"# Written by `rlstate generate` from {source}: {len(written.devboxes)} devbox(es), "
        f"{len(written.series)} snapshot series.",
        "# Review it, then `rlstate plan` shows `= adopt` for each import entry and",
        "# `rlstate apply` stamps rlstate's metadata on them in place (nothing is recreated).",
        *[f"# left out: {why}" for why in account.skipped],
        "version: 1",
        f"stack: {stack}",
    ]
    used = sorted({b for spec in written.devboxes.values() if (b := spec.get("blueprint"))})
    if used:
        lines.append("# blueprints these devboxes start from:")
        ids = {name: bpt for bpt, name in names.items()}
        lines.extend(f"#   {name}" + (f" ({ids[name]})" if name in ids else "") for name in used)
    lines.append("devboxes:" if written.devboxes else "devboxes: {}")
    if written.devboxes:
        lines.extend(NOT_ECHOED_HEAD.splitlines())
    for key, spec in written.devboxes.items():
        block = _dump({key: spec}, 2)
        lines.append(block[0])
        lines.extend("    " + note for note in [NOT_ECHOED, *written.comments[key]])
        lines.extend(block[1:])
    if written.series:
        lines.append("snapshots:")
        lines.append("  # each series keeps every snapshot that exists now: set your retention")
        lines.append(
            "  # (keep, and `every` for the nightly job) before the first `rlstate retain`"
        )
        lines.extend(_dump(written.series, 2))
    if written.imports:
        lines.append("import:")
        lines.extend(_dump(written.imports, 2))
    return "\n".join(lines) + "\n"
