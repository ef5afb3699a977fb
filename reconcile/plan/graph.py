"""The plan's dependency graph: cycle check, `--target` selection, ready sets. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconcile.plan.model import Action


def check_acyclic(actions: Sequence[Action]) -> None:
    """Raise ValueError if dependencies form a cycle or name an unknown action (a planner bug)."""
    ids = {a.id for a in actions}
    for action in actions:
        unknown = [d for d in action.depends_on if d not in ids]
        if unknown:
            raise ValueError(f"{action.id} depends on unknown {unknown}")
    order = topological_order(actions)
    if len(order) != len(actions):
        raise ValueError("plan dependencies form a cycle")


def topological_order(actions: Sequence[Action]) -> list[str]:
    """Action ids with every dependency before its dependents (stable: plan order otherwise)."""
    pending = {a.id: set(a.depends_on) for a in actions}
    order: list[str] = []
    while pending:
        ready = [i for i, deps in pending.items() if not deps]
        if not ready:
            break
        for action_id in ready:
            order.append(action_id)
            del pending[action_id]
        for deps in pending.values():
            deps.difference_update(ready)
    return order


def _matches(action: Action, target: str) -> bool:
    """`builder`, `devbox.builder`, an action id; a replica group by `worker` or `devbox.worker`."""
    name = action.address.split(".", 1)[-1]
    if target in (action.address, name, action.id):
        return True
    group, _, index = name.rpartition("-")
    if not (action.address.startswith("devbox.") and index.isdigit()):
        return False
    return target in (group, f"devbox.{group}")


def check_targets(
    actions: Sequence[Action], targets: Iterable[str], declared: Iterable[str]
) -> None:
    """Raise ConfigError for a `--target` that names no declared address (`devbox.api`, or the
    bare name) and no action of the plan: a typo must not read as "No changes."."""
    from reconcile.errors import ConfigError
    from reconcile.manifest.messages import suggest

    known = sorted(set(declared))
    names = known + sorted({n.split(".", 1)[-1] for n in known})
    for target in targets:
        if target in names or any(_matches(a, target) for a in actions):
            continue
        hint = suggest(target, names) or f"declared: {', '.join(known) or 'nothing'}"
        raise ConfigError(f"--target {target!r} names nothing in the manifest or the plan ({hint})")


def with_dependencies(actions: Sequence[Action], targets: Iterable[str]) -> tuple[Action, ...]:
    """The actions matching any target, plus everything they depend on (like Terraform)."""
    by_id = {a.id: a for a in actions}
    wanted = [a.id for a in actions if any(_matches(a, t) for t in targets)]
    chosen: set[str] = set()
    while wanted:
        action_id = wanted.pop()
        if action_id in chosen:
            continue
        chosen.add(action_id)
        wanted.extend(by_id[action_id].depends_on)
    return tuple(a for a in actions if a.id in chosen)


def ready_actions(actions: Sequence[Action], finished: set[str], started: set[str]) -> list[Action]:
    """Actions not started whose dependencies all finished successfully."""
    return [a for a in actions if a.id not in started and all(d in finished for d in a.depends_on)]
