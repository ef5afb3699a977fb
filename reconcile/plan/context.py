"""The planner's working state while it builds one plan: actions so far and who provides what.

Pure bookkeeping: no decisions live here, only the records the per-resource planners share
(which action creates object X, which id devbox Y has now or will have).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconcile.live.model import LiveState
from reconcile.plan.model import (
    Action,
    ActionKind,
    Change,
    LeftBehind,
    Refusal,
    ResourceType,
    RetentionRow,
)
from reconcile.plan.params import ActionParams, NoParams
from reconcile.pruning import ShrinkRefusal

if TYPE_CHECKING:
    from reconcile.manifest import LoadedManifest


@dataclass
class PlanContext:
    """Everything one planning pass accumulates.

    `restores`: snapshot id → the first devbox action created from it (its address);
    `mounted_by`: object id or placeholder → the devbox create actions that mount it;
    `blueprint_ids`: declared blueprint → the build devboxes use (id or placeholder);
    `shrink_refused`: series whose prune the shrink guard held back (`allow_shrink` lifts it)."""

    loaded: LoadedManifest
    live: LiveState
    now: datetime
    actions: list[Action] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    retention: list[RetentionRow] = field(default_factory=list)
    left_behind: list[LeftBehind] = field(default_factory=list)
    desired: dict[str, Any] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    object_ids: dict[str, str] = field(default_factory=dict)
    object_action: dict[str, str] = field(default_factory=dict)
    devbox_ids: dict[str, str] = field(default_factory=dict)
    devbox_action: dict[str, str] = field(default_factory=dict)
    series_action: dict[str, str] = field(default_factory=dict)
    replaced_objects: dict[str, list[str]] = field(default_factory=dict)
    restores: dict[str, str] = field(default_factory=dict)
    mounted_by: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    allow_replace_adopted: bool = False
    allow_shrink: bool = False
    shrink_refused: list[ShrinkRefusal] = field(default_factory=list)
    blueprint_ids: dict[str, str] = field(default_factory=dict)
    blueprint_action: dict[str, str] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        return self.loaded.manifest.stack

    def add(
        self,
        kind: ActionKind,
        resource: ResourceType,
        address: str,
        *,
        reasons: tuple[str, ...] | list[str] = (),
        resource_id: str | None = None,
        depends_on: tuple[str, ...] | list[str] = (),
        changes: tuple[Change, ...] | list[Change] = (),
        params: ActionParams | None = None,
        action_id: str | None = None,
    ) -> Action:
        """Record an action; its id defaults to "<kind> <address>" (plus the live id if any)."""
        if action_id is None:
            action_id = f"{kind} {address}" + (f" {resource_id}" if resource_id else "")
        action = Action(
            id=action_id,
            kind=kind,
            resource=resource,
            address=address,
            reasons=tuple(reasons),
            resource_id=resource_id,
            depends_on=tuple(dict.fromkeys(d for d in depends_on if d)),
            changes=tuple(changes),
            params=params or NoParams(),
        )
        self.actions.append(action)
        if resource_id:
            self.touched.add(resource_id)
        return action

    def refuse(self, action: Action, message: str) -> None:
        self.refusals.append(Refusal(action.id, action.address, message))
