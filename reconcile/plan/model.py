"""The plan as a value: actions, their reasons and dependencies, and live fingerprints; no I/O.

A `Plan` is frozen and round-trips through JSON (the saved plan file). What an action does is
its `kind` and typed `params` (plan/params.py); `reasons` are for people and no decision ever
reads them.

Placeholders in `params` are resolved by the executor at apply time:
  `${object:NAME}`   id of object NAME (created or replaced earlier in the same run, or live)
  `${snapshot:NAME}` id of the snapshot that series NAME's snapshot action took in this run
  `${devbox:ADDR}`   id of the devbox at address ADDR (e.g. devbox.builder)
  `${blueprint:NAME}` id of the build that blueprint NAME's build action made in this run
  `${env:NAME}`      the value of environment variable NAME (sensitive; never stored resolved)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from reconcile.errors import PlanFileError
from reconcile.plan.params import (
    ActionParams,
    NoParams,
    P,
    params_as,
    params_from_json,
    params_to_json,
)
from reconcile.pruning import ShrinkRefusal

# The plan file format of the spec. Params are read back field by field per (resource, kind), so
# a file whose params do not fit is refused as damaged or of another format, whatever it says.
FORMAT_VERSION = 1

ActionKind = Literal[
    "create",
    "update",
    "replace",
    "delete",
    "suspend",
    "resume",
    "snapshot",
    "restore",
    "prune",
    "adopt",
    "build",
    "mark",
]
ResourceType = Literal["devbox", "object", "snapshot", "blueprint"]

SYMBOLS: dict[str, str] = {
    "create": "+",
    "restore": "<",
    "update": "~",
    "suspend": "~",
    "resume": "~",
    "replace": "-/+",
    "delete": "-",
    "snapshot": ">",
    "prune": "x",
    "adopt": "=",
    "build": "+",
    "mark": "~x",
}
DESTRUCTIVE: frozenset[str] = frozenset({"replace", "delete", "prune"})


@dataclass(frozen=True)
class Change:
    """One field that differs between live and desired; `forces_replacement` when not in place."""

    field: str
    before: Any
    after: Any
    forces_replacement: bool = False


@dataclass(frozen=True)
class Action:
    """One step of a plan.

    `id` is unique in the plan and stable (e.g. "create devbox.builder", "prune snp_…");
    `depends_on` names the ids of actions that must succeed first.
    """

    id: str
    kind: ActionKind
    resource: ResourceType
    address: str
    reasons: tuple[str, ...] = ()
    resource_id: str | None = None
    depends_on: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    params: ActionParams = field(default_factory=NoParams)

    def params_as(self, cls: type[P]) -> P:
        """The params as `cls`; PlanFileError when this action carries something else."""
        return params_as(self.params, cls, self.id)

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.kind]

    @property
    def destructive(self) -> bool:
        return self.kind in DESTRUCTIVE


@dataclass(frozen=True)
class Refusal:
    """A destructive action the plan may not run because the resource is protected."""

    action_id: str
    address: str
    message: str


@dataclass(frozen=True)
class RetentionRow:
    """One snapshot of a series in the plan's retention view: kept or pruned, with reasons;
    `left`: an error snapshot the API refused to delete, left in place (keep is True)."""

    series: str
    snapshot_id: str
    created: str
    status: str
    keep: bool
    reasons: tuple[str, ...]
    size_bytes: int | None = None
    managed: bool = True
    left: bool = False
    scheduled: str | None = None  # marked for deletion at this time (kept until then)


@dataclass(frozen=True)
class LeftBehind:
    """A resource the plan would delete but leaves in place, since the API refuses to delete it
    (an `error` snapshot); no action, so a stack that holds one still plans no changes."""

    address: str
    resource_id: str
    reason: str


def _shallow(item: Action | Refusal | RetentionRow | LeftBehind) -> dict[str, Any]:
    data = {f.name: getattr(item, f.name) for f in fields(item)}
    if isinstance(item, Action):
        data["changes"] = [_shallow_change(c) for c in item.changes]
        data["params"] = params_to_json(item.params)
    if isinstance(item, RetentionRow) and not item.left:
        del data["left"]  # written only when set, so plan files stay as they were
    if isinstance(item, RetentionRow) and item.scheduled is None:
        del data["scheduled"]
    return data


def _shallow_change(change: Change) -> dict[str, Any]:
    return {f.name: getattr(change, f.name) for f in fields(change)}


@dataclass(frozen=True)
class Plan:
    """A whole plan: what to do, why, in which order, against which live state."""

    stack: str
    manifest_path: str
    manifest_sha256: str
    created_at: str
    actions: tuple[Action, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    desired: dict[str, Any] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    retention: tuple[RetentionRow, ...] = ()
    api_url: str = ""
    targets: tuple[str, ...] = ()
    left_behind: tuple[LeftBehind, ...] = ()
    notes: tuple[str, ...] = ()
    # series whose prune the shrink guard held back (no actions for them); apply exits 1
    shrink_refused: tuple[ShrinkRefusal, ...] = ()
    allow_shrink: bool = False  # made with --allow-shrink: the guard was lifted
    format_version: int = FORMAT_VERSION

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def action(self, action_id: str) -> Action:
        for action in self.actions:
            if action.id == action_id:
                return action
        raise KeyError(action_id)

    def counts(self) -> dict[str, int]:
        """Number of actions per kind, in a fixed order, zero counts left out."""
        order = (
            "adopt",
            "build",
            "create",
            "restore",
            "update",
            "suspend",
            "resume",
            "replace",
            "delete",
            "snapshot",
            "prune",
            "mark",
        )
        found = {kind: sum(1 for a in self.actions if a.kind == kind) for kind in order}
        return {kind: n for kind, n in found.items() if n}

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-able data. Params, changes and desired specs are shared, not
        copied (dataclasses.asdict deep-copies them: seconds on a stack of thousands); treat
        the result as read-only."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["actions"] = [_shallow(a) for a in self.actions]
        data["refusals"] = [_shallow(r) for r in self.refusals]
        data["retention"] = [_shallow(r) for r in self.retention]
        data["targets"] = list(self.targets)
        if self.left_behind:  # written only when set, so plan files stay as they were
            data["left_behind"] = [_shallow(item) for item in self.left_behind]
        else:
            del data["left_behind"]
        if self.notes:  # likewise
            data["notes"] = list(self.notes)
        else:
            del data["notes"]
        if self.shrink_refused:  # likewise
            data["shrink_refused"] = [r.to_json() for r in self.shrink_refused]
        else:
            del data["shrink_refused"]
        if not self.allow_shrink:  # likewise
            del data["allow_shrink"]
        return data

    def to_json(self) -> str:
        """The plan file's text: compact, since indenting makes json use its slow pure-Python
        encoder (a second on a stack of thousands); `rlstate plan --json` prints it readable."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        _check_version(data.get("format_version"))
        try:
            actions = tuple(_action(a) for a in data["actions"])
            return cls(
                stack=data["stack"],
                manifest_path=data["manifest_path"],
                manifest_sha256=data["manifest_sha256"],
                created_at=data["created_at"],
                actions=actions,
                refusals=tuple(Refusal(**r) for r in data.get("refusals", ())),
                desired=dict(data.get("desired", {})),
                fingerprints=dict(data.get("fingerprints", {})),
                retention=tuple(
                    RetentionRow(**{**r, "reasons": tuple(r["reasons"])})
                    for r in data.get("retention", ())
                ),
                api_url=data.get("api_url", ""),
                targets=tuple(data.get("targets", ())),
                left_behind=tuple(LeftBehind(**item) for item in data.get("left_behind", ())),
                notes=tuple(str(n) for n in data.get("notes", ())),
                shrink_refused=tuple(
                    ShrinkRefusal.from_json(r) for r in data.get("shrink_refused", ())
                ),
                allow_shrink=data.get("allow_shrink", False) is True,
            )
        except (KeyError, TypeError, PlanFileError) as error:
            raise PlanFileError(f"plan file is damaged or of another format ({error})") from None

    @classmethod
    def from_json(cls, text: str) -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise PlanFileError(f"plan file is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise PlanFileError("plan file is not a JSON object")
        return cls.from_dict(data)


_READ_APART = ("changes", "reasons", "depends_on", "params")


def _check_version(found: object) -> None:
    if found != FORMAT_VERSION:
        raise PlanFileError(
            f"saved plan has format_version {found!r}; this rlstate reads {FORMAT_VERSION}: "
            "run `rlstate plan` again"
        )


def _action(data: dict[str, Any]) -> Action:
    resource, kind = data["resource"], data["kind"]
    return Action(
        **{k: v for k, v in data.items() if k not in _READ_APART},
        reasons=tuple(data.get("reasons", ())),
        depends_on=tuple(data.get("depends_on", ())),
        changes=tuple(Change(**c) for c in data.get("changes", ())),
        params=params_from_json(resource, kind, data.get("params", {})),
    )
