"""The `blueprints:` section `rlstate generate` writes: one declared blueprint per build the
chosen devboxes start from, holding what the API echoes of its definition, and an `import:`
entry for each. Pure: API views in, manifest fields and comments out.

The adopting plan compares each build's echoed definition with what is written here, so a
build written whole is used as it is (never built again). What a manifest blueprint cannot
say (file mounts, launch parameters, a base beside a Dockerfile, …) is left out with a comment
saying the plan will build it again; a build whose definition is not echoed is not declared
(devboxes name it, as before).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconcile.api.models import Blueprint
from reconcile.generate.names import manifest_name
from reconcile.live.builds import echoed_build
from reconcile.live.model import OWNERSHIP_PREFIX
from reconcile.manifest.messages import suggest


@dataclass
class DeclaredBlueprints:
    """What generate writes for blueprints: fields and comments per declared name, the
    declared name of each build id, the import entries, and how other builds are named."""

    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)  # bpt_ id → declared name
    imports: list[dict[str, str]] = field(default_factory=list)
    named: dict[str, str] = field(default_factory=dict)  # bpt_ id → external name (undeclared)
    unread: list[str] = field(default_factory=list)  # header comments on builds not declared


def declare_blueprints(used: Iterable[str], listed: Iterable[Blueprint]) -> DeclaredBlueprints:
    """Declare each build in `used` (the devboxes' blueprint ids) whose definition is echoed."""
    by_id = {b.id: b for b in listed}
    out = DeclaredBlueprints(named=_unique_names(by_id.values()))
    wanted = sorted({i for i in used if i}, key=lambda i: (_sort_name(by_id.get(i)), i))
    taken: set[str] = set()
    for build_id in wanted:
        build = by_id.get(build_id)
        if build is None:
            out.unread.append(
                f"{build_id} is not listed in this account (public, or deleted): devboxes name it "
                "by id"
            )
        elif build.parameters is None:
            out.unread.append(
                f"{build_id} ({build.name}): the API does not echo what it was built from, so it "
                "is named, not declared"
            )
        else:
            out.declared[build_id] = manifest_name(build.name, build_id, taken, "blueprint")
    # An undeclared build is named by its name only when no declared name is (nearly) the same:
    # the manifest would take that name for the declared blueprint (or a typo of it).
    keys = list(out.declared.values())
    out.named = {
        i: n for i, n in out.named.items() if i not in out.declared and not suggest(n, keys)
    }
    for build_id, key in out.declared.items():
        out.specs[key], out.comments[key] = _spec(by_id[build_id], out.declared)
        out.imports.append({"to": f"blueprint.{key}", "id": build_id})
    return out


def _sort_name(build: Blueprint | None) -> str:
    return build.name.lower() if build else ""


def _unique_names(listed: Iterable[Blueprint]) -> dict[str, str]:
    """bpt_ id → name, for names that only one build has (else the id stays)."""
    builds = list(listed)
    count: dict[str, int] = {}
    for bpt in builds:
        count[bpt.name] = count.get(bpt.name, 0) + 1
    return {b.id: b.name for b in builds if count[b.name] == 1 and b.name}


def _spec(build: Blueprint, declared: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The manifest fields of one build's echoed definition, and comments for what they lack."""
    echoed = echoed_build(build.parameters, build.base_blueprint_id)
    assert echoed is not None  # builds without parameters are not declared
    spec: dict[str, Any] = {}
    notes: list[str] = []
    base = declared.get(echoed.base_id or "") or echoed.base_id or echoed.base_name
    if echoed.dockerfile is not None:
        spec["dockerfile"] = echoed.dockerfile
        if base:
            notes.append(
                f"# also built on {base}, which a blueprint with a Dockerfile cannot say here: "
                "the adopting plan builds it again"
            )
    elif base:
        spec["base"] = base
    if echoed.system_setup_commands:
        spec["system_setup_commands"] = echoed.system_setup_commands
    if echoed.build_args:
        spec["build_args"] = echoed.build_args
    meta = {k: v for k, v in build.metadata.items() if not k.startswith(OWNERSHIP_PREFIX)}
    if meta:
        spec["metadata"] = meta
    notes.extend(
        f"# built with {name}, which a manifest blueprint cannot declare: the adopting plan "
        "builds it again without it"
        for name in echoed.undeclarable
    )
    return spec, notes
