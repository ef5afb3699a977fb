"""Helpers for the planner tests: manifests on disk, hand-built live states, plan invariants.

Not a test module of its own (it holds no tests); the golden, invariant and property tests
import it. Live resources are built from a manifest with the planner's own metadata helpers,
so "converged" means exactly what the planner computes, and drift is made by building live
state from one manifest (`before`) and planning with another.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconcile.live.model import (
    KEY_STACK,
    LiveDevbox,
    LiveObject,
    LiveSnapshot,
    LiveState,
    primary_devbox_ids,
)
from reconcile.manifest import LoadedManifest, load_manifest
from reconcile.plan.desired import (
    desired_devboxes,
    desired_objects,
    devbox_metadata,
    object_metadata,
    snapshot_metadata,
)
from reconcile.plan.graph import check_acyclic
from reconcile.plan.model import Plan
from reconcile.plan.planner import build_plan
from reconcile.render import plan_to_json, render_plan_text, retention_table

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SECRET = "s3cr3t-Value-Never-Shown-42"
OTHER_SECRET = "0ther-s3cr3t-Value-Never-Shown-43"
DIR_MARK = "<manifest-dir>"


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def ago(**delta: float) -> int:
    """A create time (ms) this long before NOW."""
    return ms(NOW - timedelta(**delta))


def write_manifest(
    folder: Path, text: str, files: dict[str, str], env: dict[str, str]
) -> LoadedManifest:
    """Write rlstate.yaml and its object files into folder and load it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content)
    path = folder / "rlstate.yaml"
    path.write_text(text)
    return load_manifest(path, environ=env)


@dataclass
class World:
    """Builds a LiveState: resources described by a manifest (`before`), plus strangers."""

    before: LoadedManifest
    devboxes: list[LiveDevbox] = field(default_factory=list)
    objects: list[LiveObject] = field(default_factory=list)
    snapshots: list[LiveSnapshot] = field(default_factory=list)

    @property
    def stack(self) -> str:
        return self.before.manifest.stack

    def devbox(
        self,
        name: str,
        *,
        id: str | None = None,
        status: str = "running",
        ready: bool = True,
        created: int | None = None,
        live_name: str | None = None,
        snapshot_id: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> LiveDevbox:
        """A devbox of the stack exactly as `before` describes devbox `name` (a replica name)."""
        want = next(w for w in desired_devboxes(self.before) if w.name == name)
        meta = devbox_metadata(self.stack, want, ready=ready)
        if snapshot_id:
            meta["rlstate.snapshot"] = snapshot_id
        meta.update(extra or {})
        box = LiveDevbox(
            id or f"dbx_{name}",
            live_name if live_name is not None else want.name,
            status,
            created if created is not None else ago(days=1),
            meta,
            None,
            snapshot_id,
        )
        self.devboxes.append(box)
        return box

    def stranger_devbox(self, id: str, metadata: dict[str, str], name: str = "x") -> LiveDevbox:
        box = LiveDevbox(id, name, "running", ago(days=2), dict(metadata))
        self.devboxes.append(box)
        return box

    def object(
        self,
        name: str,
        *,
        id: str | None = None,
        state: str = "READ_ONLY",
        created: int | None = None,
    ) -> LiveObject:
        """An object of the stack exactly as `before` describes object `name`."""
        want = next(o for o in desired_objects(self.before) if o.name == name)
        obj = LiveObject(
            id or f"obj_{name}",
            want.name,
            state,
            want.content_type,
            created if created is not None else ago(days=1),
            want.size if state == "READ_ONLY" else None,
            object_metadata(self.stack, want),
        )
        self.objects.append(obj)
        return obj

    def stranger_object(self, id: str, metadata: dict[str, str]) -> LiveObject:
        obj = LiveObject(id, "x", "READ_ONLY", "text", ago(days=2), 1, dict(metadata))
        self.objects.append(obj)
        return obj

    def snapshot(
        self,
        series: str,
        id: str,
        created: int,
        status: str = "complete",
        *,
        devbox: str = "dbx_builder",
        protect: bool = False,
    ) -> LiveSnapshot:
        """A snapshot rlstate took for `series` (of the stack) of devbox id `devbox`."""
        meta = snapshot_metadata(self.stack, series, protect=protect)
        snap = LiveSnapshot(id, created, devbox, meta, f"{series}-{id}", 1024, status)
        self.snapshots.append(snap)
        return snap

    def stranger_snapshot(
        self, id: str, created: int, metadata: dict[str, str], devbox: str = "dbx_builder"
    ) -> LiveSnapshot:
        snap = LiveSnapshot(id, created, devbox, dict(metadata), None, 2048, "complete")
        self.snapshots.append(snap)
        return snap

    def state(self) -> LiveState:
        return LiveState(
            self.stack,
            tuple(self.devboxes),
            tuple(self.objects),
            tuple(self.snapshots),
            "http://api.test",
        )


def normalize(text: str, folder: Path) -> str:
    """Plan output with the temporary folder replaced by a fixed mark."""
    return text.replace(str(folder), DIR_MARK)


def plan_text(plan: Plan) -> str:
    """The human plan, and the retention view when the plan has one (what the JSON also holds)."""
    text = render_plan_text(plan)
    if plan.retention:
        text += "\n\nRetention:\n" + retention_table(plan.retention)
    return text + "\n"


def plan_json(plan: Plan) -> str:
    return plan_to_json(plan) + "\n"


# ---------------------------------------------------------------- invariants


def _by_id(live: LiveState) -> dict[str, LiveDevbox | LiveObject | LiveSnapshot]:
    found: list[LiveDevbox | LiveObject | LiveSnapshot] = [
        *live.devboxes,
        *live.objects,
        *live.snapshots,
    ]
    return {r.id: r for r in found}


def _unmanaged_allowed(loaded: LoadedManifest, live: LiveState, snap: LiveSnapshot) -> bool:
    """A foreign snapshot that a series with prune_unmanaged may prune."""
    by_name = primary_devbox_ids(live.stack, live.devboxes)
    for spec in loaded.manifest.snapshots.values():
        if not spec.prune_unmanaged:
            continue
        dbx = spec.devbox if spec.devbox.startswith("dbx_") else by_name.get(spec.devbox)
        if dbx and snap.source_devbox_id == dbx:
            return True
    return False


def plan_problems(
    plan: Plan, loaded: LoadedManifest, live: LiveState, secrets: tuple[str, ...] = ()
) -> list[str]:
    """Every invariant a plan must hold, as readable complaints (empty: the plan is sound)."""
    problems: list[str] = []
    resources = _by_id(live)
    ids = [a.id for a in plan.actions]
    if len(ids) != len(set(ids)):
        problems.append(f"action ids repeat: {sorted(i for i in ids if ids.count(i) > 1)}")
    try:
        check_acyclic(plan.actions)
    except ValueError as error:
        problems.append(f"graph: {error}")
    for action in plan.actions:
        if action.resource_id is not None:
            res = resources.get(action.resource_id)
            if res is None:
                problems.append(f"{action.id}: acts on {action.resource_id}, which is not live")
            elif res.metadata.get(KEY_STACK) != live.stack and not (
                isinstance(res, LiveSnapshot)
                and action.kind == "prune"
                and _unmanaged_allowed(loaded, live, res)
            ):
                problems.append(f"{action.id}: acts on {res.id}, which the stack does not own")
        if action.kind in ("delete", "prune", "replace") and not action.reasons:
            problems.append(f"{action.id}: destructive action without a reason")
    problems += _prune_problems(plan, live)
    if Plan.from_json(plan.to_json()) != plan:
        problems.append("Plan.from_json(plan.to_json()) differs from the plan")
    rendered = (plan.to_json(), plan_to_json(plan), render_plan_text(plan), plan_text(plan))
    for secret in secrets:
        if any(secret in out for out in rendered):
            problems.append("a sensitive value appears in the plan output")
    return problems


def _prune_problems(plan: Plan, live: LiveState) -> list[str]:
    """Prunes never touch unread, in-progress, in-use or newest complete snapshots."""
    problems = []
    snaps = {s.id: s for s in live.snapshots}
    used = {
        sid
        for d in live.devboxes
        if d.active and d.metadata.get(KEY_STACK) == live.stack
        for sid in (d.snapshot_id, d.metadata.get("rlstate.snapshot"))
        if sid
    }
    newest: dict[str, str] = {}
    for series in {s.series for s in live.snapshots if s.series}:
        done = [s for s in live.snapshots if s.series == series and s.status == "complete"]
        if done:
            newest[series] = max(done, key=lambda s: (s.create_time_ms, s.id)).id
    for action in plan.actions:
        if action.kind != "prune" or action.resource_id not in snaps:
            continue
        snap = snaps[action.resource_id]
        if snap.status not in ("complete", "error"):
            problems.append(f"{action.id}: prunes a snapshot whose status is {snap.status}")
        if snap.id in used:
            problems.append(f"{action.id}: prunes a snapshot a live devbox was restored from")
        if snap.id in newest.values():
            problems.append(f"{action.id}: prunes the newest complete snapshot of its series")
    return problems


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True)


LiveBuilder = Callable[[World], None]


def build(
    loaded: LoadedManifest,
    before: LoadedManifest,
    live: LiveBuilder,
    targets: tuple[str, ...] = (),
    now: datetime = NOW,
    *,
    allow_shrink: bool = False,
) -> tuple[Plan, LiveState]:
    world = World(before)
    live(world)
    state = world.state()
    return build_plan(loaded, state, now, targets, allow_shrink=allow_shrink), state
