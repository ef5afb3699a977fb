"""Planning declared blueprints: reuse a build of the same definition, else build; delete
builds beyond `keep` and builds of blueprints the manifest no longer names. Pure.

What defines a build (Dockerfile text, base, setup commands, build args) is hashed, per field
and as a whole, into each build's metadata. A build of the same hash is reused, the stack's own
first, then one another stack built from the same definition; it is never built again. A build
is never deleted while a devbox of the stack was created from it, nor while this plan uses it.
A build an `import:` entry names is used when its echoed definition is the declared one
(blueprint_adoption.py); it is never deleted, since rlstate did not make it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconcile.live.model import (
    KEY_BUILD,
    KEY_BUILD_FIELDS,
    KEY_KIND,
    KEY_NAME,
    KEY_STACK,
    LiveBlueprint,
)
from reconcile.manifest.blueprint_schema import BlueprintSpec
from reconcile.plan.blueprint_adoption import (
    KEY_ADOPTED_BUILD,
    adopt_build,
    build_to_adopt,
    mismatch_reason,
)
from reconcile.plan.context import PlanContext
from reconcile.plan.desired import decode_fields, digest, encode_fields
from reconcile.plan.model import ActionKind, Change
from reconcile.plan.params import BlueprintBuild

if TYPE_CHECKING:
    from reconcile.manifest import LoadedManifest

BUILDING = frozenset({"queued", "provisioning", "building"})
BUILD_FIELDS = ("dockerfile", "base", "system_setup_commands", "build_args")


@dataclass(frozen=True)
class DesiredBlueprint:
    """One blueprint the manifest declares, with the hash of what defines its build."""

    address: str
    name: str
    spec: BlueprintSpec
    dockerfile: str | None
    fields: dict[str, str]
    build_hash: str


def desired_blueprints(loaded: LoadedManifest) -> dict[str, DesiredBlueprint]:
    """Every declared blueprint, a base before the blueprints built on it."""
    declared = loaded.manifest.blueprints
    out: dict[str, DesiredBlueprint] = {}

    def visit(name: str) -> None:
        if name in out:
            return
        spec = declared[name]
        base: Any = spec.base
        if spec.base in declared and spec.base != name:
            visit(spec.base)
            base = ["declared", out[spec.base].build_hash]
        dockerfile = loaded.dockerfiles.get(name)
        values = {
            "dockerfile": dockerfile,
            "base": base,
            "system_setup_commands": spec.system_setup_commands,
            "build_args": dict(sorted(spec.build_args.items())),
        }
        fields = {key: digest(values[key]) for key in BUILD_FIELDS}
        out[name] = DesiredBlueprint(
            f"blueprint.{name}", name, spec, dockerfile, fields, digest(fields, 16)
        )

    for name in declared:
        visit(name)
    return out


def blueprint_hashes(loaded: LoadedManifest) -> dict[str, str]:
    """Declared blueprint → its build hash (what a devbox's `blueprint` field hashes to)."""
    if not loaded.manifest.blueprints:
        return {}
    return {name: want.build_hash for name, want in desired_blueprints(loaded).items()}


def _owned(ctx: PlanContext, build: LiveBlueprint) -> bool:
    return build.metadata.get(KEY_STACK) == ctx.stack and build.status != "deleted"


def _reusable(ctx: PlanContext, want: DesiredBlueprint) -> LiveBlueprint | None:
    """The build to use as it is: the stack's own of this name first, then any of the hash."""
    same = [
        b
        for b in ctx.live.blueprints
        if b.build_hash == want.build_hash and b.status == "build_complete"
    ]
    rank = [
        (_owned(ctx, b) and b.logical_name == want.name, _owned(ctx, b), b.create_time_ms, b.id)
        for b in same
    ]
    ranked = sorted(zip(rank, same, strict=True), key=lambda pair: pair[0], reverse=True)
    return ranked[0][1] if ranked else None


def _metadata(ctx: PlanContext, want: DesiredBlueprint) -> dict[str, str]:
    meta = dict(want.spec.metadata)
    meta.update(
        {
            KEY_STACK: ctx.stack,
            KEY_KIND: "blueprint",
            KEY_NAME: want.name,
            KEY_BUILD: want.build_hash,
            KEY_BUILD_FIELDS: encode_fields(want.fields),
        }
    )
    return meta


def _body(ctx: PlanContext, want: DesiredBlueprint) -> dict[str, Any]:
    """The POST /v1/blueprints body; a declared base is its build's id (or placeholder)."""
    spec = want.spec
    body: dict[str, Any] = {"name": want.name, "metadata": _metadata(ctx, want)}
    if want.dockerfile is not None:
        body["dockerfile"] = want.dockerfile
    if spec.base in ctx.blueprint_ids:
        body["base_blueprint_id"] = ctx.blueprint_ids[spec.base]
    elif spec.base:
        key = "base_blueprint_id" if spec.base.startswith("bpt_") else "base_blueprint_name"
        body[key] = spec.base
    if spec.system_setup_commands:
        body["system_setup_commands"] = list(spec.system_setup_commands)
    if spec.build_args:
        body["build_args"] = dict(spec.build_args)
    return body


def _why_build(
    want: DesiredBlueprint, builds: list[LiveBlueprint]
) -> tuple[list[str], list[Change]]:
    """Reasons (and changed fields) for building, from the newest build of this name."""
    if not builds:
        return ["not yet built"], []
    newest = builds[0]
    if newest.build_hash == want.build_hash and newest.status == "failed":
        return [f"the last build {newest.id} failed"], []
    live_fields = decode_fields(newest.metadata.get(KEY_BUILD_FIELDS))
    changes = [
        Change(name, live_fields.get(name), value)
        for name, value in want.fields.items()
        if live_fields.get(name) != value
    ]
    changed = ", ".join(c.field for c in changes) or "definition"
    return [f"changed: {changed}"], changes


def _plan_one(ctx: PlanContext, want: DesiredBlueprint, builds: list[LiveBlueprint]) -> None:
    ctx.desired[want.address] = {
        "spec": want.spec.model_dump(mode="json"),
        "build_hash": want.build_hash,
    }
    imported = build_to_adopt(ctx, want)
    differs = adopt_build(ctx, want, imported) if imported is not None else []
    if imported is not None and not differs:
        return  # the imported build is the manifest's: used as it is
    reuse = _reusable(ctx, want)
    if reuse is not None:
        ctx.blueprint_ids[want.name] = reuse.id
        ctx.desired[want.address]["build"] = reuse.id
        if imported is not None:
            why = mismatch_reason(imported, differs)
            ctx.notes.append(f"{want.address}: {why}; {reuse.id}, built as declared, is used")
        return
    under_way = next(
        (b for b in builds if b.build_hash == want.build_hash and b.status in BUILDING), None
    )
    if under_way is not None:
        reasons = [f"a build of this definition is under way ({under_way.id})"]
        changes: list[Change] = []
    else:
        reasons, changes = _why_build(want, builds)
    if imported is not None:
        reasons = [mismatch_reason(imported, differs), *(reasons if under_way else [])]
        changes = differs
    base_action = ctx.blueprint_action.get(want.spec.base or "")
    action = ctx.add(
        "build",
        "blueprint",
        want.address,
        reasons=reasons,
        depends_on=[base_action] if base_action else [],
        changes=changes,
        params=BlueprintBuild(body=_body(ctx, want), wait_for=under_way.id if under_way else None),
    )
    ctx.blueprint_action[want.name] = action.id
    ctx.blueprint_ids[want.name] = f"${{blueprint:{want.name}}}"


def plan_blueprints(ctx: PlanContext) -> None:
    """Reuse or build every declared blueprint, then delete the builds nothing keeps."""
    if not ctx.loaded.manifest.blueprints:
        return
    by_name: dict[str, list[LiveBlueprint]] = {}
    for build in ctx.live.blueprints:
        if _owned(ctx, build):
            by_name.setdefault(build.logical_name or "", []).append(build)
    for builds in by_name.values():
        builds.sort(key=lambda b: (b.create_time_ms, b.id), reverse=True)
    wanted = desired_blueprints(ctx.loaded)
    for want in wanted.values():
        _plan_one(ctx, want, by_name.get(want.name, []))
    kept = _kept(ctx, wanted, by_name)
    doomed: list[tuple[LiveBlueprint, str, ActionKind]] = []
    for name, builds in by_name.items():
        declared = wanted.get(name)
        if declared is not None and declared.spec.keep is None:
            continue
        reason = "not in manifest"
        if declared is not None and declared.spec.keep is not None:
            reason = f"beyond keep: last {declared.spec.keep.last}"
        for build in builds:
            if build.id not in kept and build.status not in BUILDING:
                doomed.append((build, reason, "delete" if declared is None else "prune"))
    _delete_all(ctx, doomed)


def _kept(
    ctx: PlanContext, wanted: dict[str, DesiredBlueprint], by_name: dict[str, list[LiveBlueprint]]
) -> set[str]:
    """Builds no plan may delete: those in use (`_in_use`), the newest `keep.last` of each
    blueprint (a planned build counts as one), and every build any of those was built on."""
    kept = _in_use(ctx)
    for name, want in wanted.items():
        builds = by_name.get(name, [])
        if want.spec.keep is None:
            kept |= {b.id for b in builds}
            continue
        slots = want.spec.keep.last - (1 if name in ctx.blueprint_action else 0)
        newest = [b.id for b in builds if b.status == "build_complete"]
        current = ctx.blueprint_ids.get(name)
        adopted = ctx.desired.get(want.address, {}).get(KEY_ADOPTED_BUILD)
        chosen = {current} if current in newest or (current and current == adopted) else set()
        for build_id in newest:
            if len(chosen) >= slots:
                break
            chosen.add(build_id)
        kept |= chosen
    base_of = {b.id: b.base_blueprint_id for b in ctx.live.blueprints if b.base_blueprint_id}
    todo = list(kept)
    while todo:
        base = base_of.get(todo.pop())
        if base and base not in kept:
            kept.add(base)
            todo.append(base)
    return kept


def _in_use(ctx: PlanContext) -> set[str]:
    """Builds a live devbox of the stack was created from, those the stack's snapshots derive
    from (the API refuses those deletes), and those this plan or the manifest uses."""
    used = {
        d.blueprint_id
        for d in ctx.live.devboxes
        if d.blueprint_id and d.active and d.metadata.get(KEY_STACK) == ctx.stack
    }
    used |= {
        s.source_blueprint_id
        for s in ctx.live.snapshots
        if s.source_blueprint_id and s.status != "deleted"
    }
    used |= set(ctx.blueprint_ids.values())
    manifest = ctx.loaded.manifest
    refs = [d.blueprint for d in manifest.devboxes.values()] + [manifest.defaults.blueprint]
    refs += [b.base for b in manifest.blueprints.values()]
    return used | {ref for ref in refs if ref and ref.startswith("bpt_")}


def _delete_all(
    ctx: PlanContext, doomed: list[tuple[LiveBlueprint, str, ActionKind]], first: Sequence[str] = ()
) -> None:
    """Delete builds, each after `first`, after this plan's build of its blueprint (a failed
    build deletes none) and after the deletes of builds made on top of it."""
    made_on: dict[str, list[str]] = {}
    ids: dict[str, str] = {}
    for build, _reason, kind in doomed:
        ids[build.id] = f"{kind} blueprint.{build.logical_name or build.id} {build.id}"
        if build.base_blueprint_id:
            made_on.setdefault(build.base_blueprint_id, []).append(build.id)
    for build, reason, kind in doomed:
        after = [*first, ctx.blueprint_action.get(build.logical_name or "", "")]
        after += [ids[child] for child in made_on.get(build.id, [])]
        ctx.add(
            kind,
            "blueprint",
            f"blueprint.{build.logical_name or build.id}",
            reasons=[reason],
            resource_id=build.id,
            depends_on=after,
            action_id=ids[build.id],
        )


def destroy_blueprints(ctx: PlanContext, after: list[str]) -> None:
    """Delete every build of the stack (destroy), once `after` (devboxes, snapshots) is done."""
    doomed: list[tuple[LiveBlueprint, str, ActionKind]] = [
        (build, "destroy", "delete")
        for build in ctx.live.blueprints
        if _owned(ctx, build) and build.status not in BUILDING
    ]
    _delete_all(ctx, doomed, after)
