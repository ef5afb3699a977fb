"""Planner invariants: over every named case first, then over random live states (hypothesis).

What must hold for any plan: no action on what the stack does not own (foreign snapshots only
under prune_unmanaged); every destructive action has a reason and, on a protected resource, a
refusal; dependencies name existing actions and form no cycle; the plan round-trips through
JSON; secrets never show. And the lazy status reads of discovery lose no decision: reading
only what `statuses_needed` asks for plans the same as reading every status.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planner_cases import CASES, Case
from planner_support import (
    NOW,
    OTHER_SECRET,
    SECRET,
    World,
    ago,
    build,
    plan_problems,
    write_manifest,
)
from planner_worlds import BASE_WORKERS, EMPTY, FILES, SCRATCH

from reconcile.live.model import KEY_PROTECT, LiveState
from reconcile.manifest import LoadedManifest
from reconcile.plan.desired import desired_devboxes
from reconcile.plan.model import Plan
from reconcile.plan.params import ObjectCreate
from reconcile.plan.planner import build_plan
from reconcile.plan.series import statuses_needed

SECRETS = (SECRET, OTHER_SECRET)


def load_case(case: Case, folder: Path) -> tuple[LoadedManifest, LoadedManifest]:
    loaded = write_manifest(folder / "now", case.manifest, case.files, case.env)
    before = write_manifest(
        folder / "before",
        case.before if case.before is not None else case.manifest,
        case.before_files if case.before_files is not None else case.files,
        case.before_env if case.before_env is not None else case.env,
    )
    return loaded, before


def refusal_problems(plan: Plan, loaded: LoadedManifest, live: LiveState) -> list[str]:
    """Deleting what carries rlstate.protect=true, or replacing a devbox the manifest
    protects, must be refused; nothing else may be."""
    marked = {b.id for b in live.devboxes if b.metadata.get(KEY_PROTECT) == "true"}
    marked |= {s.id for s in live.snapshots if s.metadata.get(KEY_PROTECT) == "true"}
    groups = {w.address: w.protected for w in desired_devboxes(loaded)}
    refused = {r.action_id for r in plan.refusals}
    problems = []
    for action in plan.actions:
        if action.kind == "replace" and action.resource == "devbox":
            must = groups[action.address]
        else:
            must = action.kind == "delete" and action.resource_id in marked
        if action.kind == "delete" and action.resource == "devbox":
            group = next((w for w in desired_devboxes(loaded) if w.address == action.address), None)
            must = must or bool(group and group.protected)
        if must != (action.id in refused):
            problems.append(f"{action.id}: refused is {action.id in refused}, must be {must}")
    return problems


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_every_case_keeps_the_invariants(case: Case, tmp_path: Path) -> None:
    loaded, before = load_case(case, tmp_path)
    plan, live = build(loaded, before, case.live, case.targets, allow_shrink=case.allow_shrink)
    assert plan_problems(plan, loaded, live, SECRETS) == []
    assert refusal_problems(plan, loaded, live) == []


def test_empty_manifest_on_an_empty_stack_plans_nothing(tmp_path: Path) -> None:
    loaded = write_manifest(tmp_path, EMPTY, {}, {})
    plan = build_plan(loaded, LiveState("demo"), NOW)
    assert plan.actions == () and plan.refusals == () and plan.retention == ()
    assert not plan.has_changes


def test_the_invariant_checks_can_fail(tmp_path: Path) -> None:
    """The checker itself: a plan that acts on a stranger, and one with a cycle, are caught."""
    loaded = write_manifest(tmp_path, BASE_WORKERS, FILES, {"CI_TOKEN": SECRET})
    world = World(loaded)
    world.stranger_devbox("dbx_stranger", {})
    live = world.state()
    plan = build_plan(loaded, live, NOW)
    bad = replace(plan.actions[0], resource_id="dbx_stranger", depends_on=(plan.actions[-1].id,))
    broken = replace(plan, actions=(bad, *plan.actions[1:]))
    problems = plan_problems(
        broken, loaded, live, (plan.actions[0].params_as(ObjectCreate).sha256,)
    )
    assert any("does not own" in p for p in problems)
    assert any("cycle" in p for p in problems)
    assert any("sensitive" in p for p in problems)


# ---------------------------------------------------------------- random live states

_FOLDER = Path(tempfile.mkdtemp(prefix="rlstate-planner-"))
MANIFESTS = {
    "workers": write_manifest(_FOLDER / "workers", BASE_WORKERS, FILES, {"CI_TOKEN": SECRET}),
    "scratch": write_manifest(_FOLDER / "scratch", SCRATCH, FILES, {"CI_TOKEN": OTHER_SECRET}),
    "unmanaged": write_manifest(
        _FOLDER / "unmanaged",
        BASE_WORKERS.replace(
            "keep: {last: 3}", "keep: {last: 2, daily: 2}\n    prune_unmanaged: true"
        ),
        FILES,
        {"CI_TOKEN": SECRET},
    ),
    "empty": write_manifest(_FOLDER / "empty", EMPTY, {}, {}),
}
DEVBOX_STATUSES = ["running", "running", "suspended", "provisioning", "failure", "shutdown"]
SNAPSHOT_STATUSES = ["complete", "complete", "complete", "error", "in_progress", "deleted"]
OWNERS = ["demo", "demo", "demo", "other", None]


@st.composite
def live_states(draw: st.DrawFn) -> tuple[LoadedManifest, LiveState, LiveState]:
    """(manifest, live with every status read, the same live with statuses unread)."""
    loaded = MANIFESTS[draw(st.sampled_from(sorted(MANIFESTS)))]
    before = MANIFESTS[draw(st.sampled_from(["workers", "scratch", "unmanaged"]))]
    world = World(before)
    for name in [w.name for w in desired_devboxes(before)]:
        for copy in range(draw(st.integers(0, 2))):
            box = world.devbox(
                name,
                id=f"dbx_{name}_{copy}",
                status=draw(st.sampled_from(DEVBOX_STATUSES)),
                ready=draw(st.booleans()),
                created=int(NOW.timestamp() * 1000) - draw(st.integers(0, 10**9)),
            )
            _disown(world.devboxes, box.id, draw(st.sampled_from(OWNERS)))
    for copy in range(draw(st.integers(0, 2))):
        obj = world.object(
            "toolchain",
            id=f"obj_toolchain_{copy}",
            state=draw(st.sampled_from(["READ_ONLY", "READ_ONLY", "UPLOADING"])),
        )
        _disown(world.objects, obj.id, draw(st.sampled_from(OWNERS)))
    sources = [b.id for b in world.devboxes] or ["dbx_builder_0"]
    for n in range(draw(st.integers(0, 14))):
        series = draw(st.sampled_from(["golden", "golden", "gone"]))
        snap = world.snapshot(
            series,
            f"snp_{n:02d}",
            int((NOW - timedelta(hours=draw(st.integers(0, 24 * 60)))).timestamp() * 1000),
            draw(st.sampled_from(SNAPSHOT_STATUSES)),
            devbox=draw(st.sampled_from(sources)),
            protect=draw(st.booleans()) and series == "gone",
        )
        owner = draw(st.sampled_from(OWNERS))
        if owner != "demo":
            world.snapshots[-1] = replace(
                snap, metadata={} if owner is None else {"rlstate.stack": owner}
            )
    read = world.state()
    return loaded, read, unread_copy(read)


def unread_copy(live: LiveState) -> LiveState:
    """The same live state as discovery first lists it: no snapshot status read yet."""
    snaps = tuple(replace(s, status="unread") for s in live.snapshots)
    return LiveState(live.stack, live.devboxes, live.objects, snaps, live.api_url)


def _disown(items: list, item_id: str, owner: str | None) -> None:  # type: ignore[type-arg]
    """Give the item with item_id another stack's marks, or none, unless owner is ours."""
    if owner == "demo":
        return
    index = next(i for i, x in enumerate(items) if x.id == item_id)
    metadata = {} if owner is None else {**items[index].metadata, "rlstate.stack": owner}
    items[index] = replace(items[index], metadata=metadata)


def discover_lazily(loaded: LoadedManifest, truth: LiveState, live: LiveState) -> LiveState:
    """What discovery does: read only the statuses the planner asks for, until it asks none."""
    statuses = {s.id: (s.status, None) for s in truth.snapshots}
    for _ in range(len(live.snapshots) + 1):
        needed = statuses_needed(loaded.manifest, live, NOW)
        if not needed:
            break
        live = live.with_statuses({i: statuses[i] for i in needed})
    return live


# RLSTATE_EXAMPLES=3000 for a longer hunt.
EXAMPLES = int(os.environ.get("RLSTATE_EXAMPLES", "150"))
PROPERTY = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(live_states())
def test_random_live_states_keep_the_invariants(
    states: tuple[LoadedManifest, LiveState, LiveState],
) -> None:
    loaded, read, unread = states
    for live in (read, unread):
        plan = build_plan(loaded, live, NOW)
        assert plan_problems(plan, loaded, live, SECRETS) == []
        assert refusal_problems(plan, loaded, live) == []


@PROPERTY
@given(live_states())
def test_lazy_status_reads_plan_what_reading_every_status_plans(
    states: tuple[LoadedManifest, LiveState, LiveState],
) -> None:
    """Reading only the needed statuses loses no snapshot, restore or prune decision; the one
    thing it may leave for later is deleting an error snapshot nobody needed to read."""
    loaded, read, unread = states
    full = build_plan(loaded, read, NOW)
    lazy_live = discover_lazily(loaded, read, unread)
    lazy = build_plan(loaded, lazy_live, NOW)
    status = {s.id: s.status for s in read.snapshots}
    full_ids = {a.id for a in full.actions}
    lazy_ids = {a.id for a in lazy.actions}
    for extra in lazy_ids - full_ids:
        # Deleting a removed series' snapshots needs no status; one already gone is a 404,
        # which counts as done.
        action = lazy.action(extra)
        assert action.kind == "delete" and status[action.resource_id or ""] == "deleted", extra
    for missing in full_ids - lazy_ids:
        action = full.action(missing)
        assert action.kind == "prune" and status[action.resource_id or ""] == "error", missing
    for action_id in lazy_ids & full_ids:
        assert lazy.action(action_id) == full.action(action_id)
    lazy_status = {s.id: s.status for s in lazy_live.snapshots}
    pruned = [a.resource_id or "" for a in lazy.actions if a.kind == "prune"]
    assert all(lazy_status[i] != "unread" for i in pruned)


def _golden_series(
    folder: Path, keep: str, golden: dict[str, int]
) -> tuple[LoadedManifest, LiveState]:
    """The workers stack with the golden series kept by `keep`, converged: its snapshots are
    `golden` (id: when taken, newest first), and both workers restore from the newest."""
    loaded = write_manifest(
        folder, BASE_WORKERS.replace("keep: {last: 3}", keep), FILES, {"CI_TOKEN": SECRET}
    )
    world = World(loaded)
    world.object("toolchain")
    world.devbox("builder")
    for snapshot_id, when in golden.items():
        world.snapshot("golden", snapshot_id, when)
    newest = next(iter(golden))
    world.devbox("worker-0", snapshot_id=newest)
    world.devbox("worker-1", snapshot_id=newest)
    return loaded, world.state()


def test_lazy_reads_read_few_statuses_of_a_long_series(tmp_path: Path) -> None:
    """A converged series of 200 snapshots (keep within 400d): only the newest is read."""
    golden = {f"snp_{n:03d}": ago(days=n, hours=1) for n in range(200)}
    loaded, truth = _golden_series(tmp_path, "keep: {within: 400d}", golden)
    unread = unread_copy(truth)
    reads: list[frozenset[str]] = []
    live = unread
    while needed := statuses_needed(loaded.manifest, live, NOW):
        reads.append(needed)
        live = live.with_statuses({i: ("complete", None) for i in needed})
    assert reads == [frozenset({"snp_000"})]
    assert not build_plan(loaded, live, NOW).has_changes


def test_a_series_that_prunes_reads_every_status_first(tmp_path: Path) -> None:
    """keep last 2 over 6: the prune needs every status of the series (any unread one could
    be an error that frees a `last` slot), and only then prunes the four oldest."""
    golden = {f"snp_{n}": ago(hours=n + 1) for n in range(6)}
    loaded, truth = _golden_series(tmp_path, "keep: {last: 2}", golden)
    live = unread_copy(truth)
    first = statuses_needed(loaded.manifest, live, NOW)
    assert first == {s.id for s in truth.snapshots}
    plan = build_plan(loaded, discover_lazily(loaded, truth, live), NOW, allow_shrink=True)
    assert sorted(a.resource_id or "" for a in plan.actions if a.kind == "prune") == [
        "snp_2",
        "snp_3",
        "snp_4",
        "snp_5",
    ]
