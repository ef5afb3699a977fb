"""Planning a `to: blueprint.NAME, id: bpt_…` import: use that build when the definition the
API echoes for it is the declared blueprint's; else say which fields differ (the caller then
plans a build as usual). Pure.

A blueprint's metadata cannot be updated, so an adopted build never carries rlstate's marks:
every plan compares it again, the import entry must stay while the stack uses the build, and
rlstate never deletes it (it deletes only the builds it made).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconcile.errors import AdoptionError
from reconcile.live.builds import EchoedBuild, echoed_build
from reconcile.live.imports import import_entries
from reconcile.live.model import KEY_STACK, LiveBlueprint
from reconcile.plan.adoption import owned_here
from reconcile.plan.context import PlanContext
from reconcile.plan.model import Change

if TYPE_CHECKING:
    from reconcile.plan.blueprints import DesiredBlueprint

KEY_ADOPTED_BUILD = "adopted"  # in the plan's desired entry of the blueprint: the adopted id


def build_to_adopt(ctx: PlanContext, want: DesiredBlueprint) -> LiveBlueprint | None:
    """The build an `import:` entry names for `want`; None without an entry or when it is the
    stack's own build already. AdoptionError when it cannot be adopted (gone, another stack's,
    not built, or its definition is not echoed)."""
    entry = import_entries(ctx.loaded.manifest, "blueprint").get(want.name)
    if entry is None or entry.id is None:
        return None
    where = f"import {want.address} ({entry.id})"
    build = next((b for b in ctx.live.blueprints if b.id == entry.id), None)
    if build is None or build.status == "deleted":
        raise AdoptionError(f"{where}: there is no such blueprint in this account")
    if owned_here(ctx, where, build.metadata):
        return None
    if build.status != "build_complete":
        raise AdoptionError(
            f"{where}: its build is {build.status}; only a completed build can be adopted"
        )
    if build.parameters is None:
        raise AdoptionError(
            f"{where}: the API does not echo what it was built from, so it cannot be compared "
            f"with the manifest; name it by id (blueprint: {build.id}) instead of declaring it"
        )
    return build


def adopt_build(ctx: PlanContext, want: DesiredBlueprint, build: LiveBlueprint) -> list[Change]:
    """Use `build` for `want` when its echoed definition is the manifest's (returns []);
    else return the fields that differ and record nothing."""
    echoed = echoed_build(build.parameters, build.base_blueprint_id)
    assert echoed is not None  # build_to_adopt refused a build without parameters
    differs = definition_differences(ctx, want, echoed)
    if differs:
        return differs
    ctx.blueprint_ids[want.name] = build.id
    ctx.desired[want.address].update({"build": build.id, KEY_ADOPTED_BUILD: build.id})
    note = (
        "its echoed build parameters are the manifest's; a blueprint's metadata cannot be "
        f"written, so nothing marks it as adopted: keep this import entry while the stack uses "
        f"{build.id} (rlstate never deletes it)"
    )
    if _used_by_stack(ctx, build.id):
        ctx.notes.append(f"{want.address} is {build.id}, adopted: {note}")
        ctx.touched.add(build.id)
    else:
        ctx.add("adopt", "blueprint", want.address, reasons=[note], resource_id=build.id)
    return []


def mismatch_reason(build: LiveBlueprint, differs: list[Change]) -> str:
    """Why an imported build is not used: the fields in which it differs."""
    fields = ", ".join(c.field for c in differs)
    return (
        f"import {build.id} differs from the manifest in {fields}; it is left as it is "
        "(rlstate did not create it)"
    )


def definition_differences(
    ctx: PlanContext, want: DesiredBlueprint, echoed: EchoedBuild
) -> list[Change]:
    """Each defining field in which the echoed build differs from the declared blueprint, and
    each parameter set on the build that a manifest cannot declare."""
    spec = want.spec
    changes: list[Change] = []
    if echoed.dockerfile != (want.dockerfile or None):
        changes.append(Change("dockerfile", echoed.dockerfile, want.dockerfile))
    if not _base_matches(ctx, want, echoed):
        changes.append(Change("base", echoed.base_name or echoed.base_id, spec.base))
    if echoed.system_setup_commands != list(spec.system_setup_commands):
        before: Any = echoed.system_setup_commands
        changes.append(Change("system_setup_commands", before, list(spec.system_setup_commands)))
    if echoed.build_args != dict(spec.build_args):
        changes.append(Change("build_args", echoed.build_args, dict(spec.build_args)))
    changes.extend(Change(name, "(set)", None) for name in echoed.undeclarable)
    return changes


def _base_matches(ctx: PlanContext, want: DesiredBlueprint, echoed: EchoedBuild) -> bool:
    """The build's base is the manifest's: none; a declared blueprint (the build this plan uses
    for it, or one of the same hash); a bpt_ id; an external blueprint's name."""
    base = want.spec.base
    if base is None:
        return echoed.base_id is None and echoed.base_name is None
    if base.startswith("bpt_"):
        return echoed.base_id == base
    on = next((b for b in ctx.live.blueprints if b.id == echoed.base_id), None)
    if base in ctx.loaded.manifest.blueprints:
        if echoed.base_id is not None and echoed.base_id == ctx.blueprint_ids.get(base):
            return True
        wanted = ctx.desired.get(f"blueprint.{base}", {}).get("build_hash")
        return on is not None and on.build_hash is not None and on.build_hash == wanted
    return echoed.base_name == base or (
        echoed.base_name is None and on is not None and on.name == base
    )


def _used_by_stack(ctx: PlanContext, build_id: str) -> bool:
    """A devbox, snapshot or build of the stack was made from the build, or from a build made
    on it (so an apply has taken it into use; the plan then only notes the adoption)."""
    stack = ctx.stack
    used = {
        d.blueprint_id for d in ctx.live.devboxes if d.active and d.metadata.get(KEY_STACK) == stack
    }
    used |= {
        s.source_blueprint_id
        for s in ctx.live.snapshots
        if s.metadata.get(KEY_STACK) == stack and s.status != "deleted"
    }
    used |= {b.id for b in ctx.live.blueprints if b.metadata.get(KEY_STACK) == stack}
    base_of = {b.id: b.base_blueprint_id for b in ctx.live.blueprints}
    todo = [u for u in used if u]
    while todo:
        current = todo.pop()
        if current == build_id:
            return True
        base = base_of.get(current)
        if base and base not in used:
            used.add(base)
            todo.append(base)
    return False
