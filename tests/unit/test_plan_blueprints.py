"""Planning declared blueprints from a manifest on disk and a hand-made live state: which build
is reused, when one is built or waited for, what is deleted, and the plan file round trip."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reconcile.apply.placeholders import resolve
from reconcile.live.model import LiveBlueprint, LiveDevbox, LiveState
from reconcile.manifest import LoadedManifest, load_manifest
from reconcile.plan.blueprints import desired_blueprints
from reconcile.plan.model import Plan
from reconcile.plan.params import BlueprintBuild, DevboxCreate
from reconcile.plan.planfile import load_plan, save_plan
from reconcile.plan.planner import build_plan

NOW = datetime(2026, 12, 1, tzinfo=UTC)
MANIFEST = """\
version: 1
stack: demo
blueprints:
  py311:
    dockerfile_file: py311.Dockerfile
    build_args: {PY: "3.11"}
devboxes:
  web:
    blueprint: py311
"""


def _load(tmp_path: Path, dockerfile: str = "FROM ubuntu:22.04\n") -> LoadedManifest:
    (tmp_path / "py311.Dockerfile").write_text(dockerfile)
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    return load_manifest(tmp_path / "rlstate.yaml", {})


def _build(
    loaded: LoadedManifest, build_id: str, *, stack: str = "demo", status: str = "build_complete"
) -> LiveBlueprint:
    """A live build of py311 as rlstate made it for the manifest as loaded."""
    want = desired_blueprints(loaded)["py311"]
    meta = {"rlstate.stack": stack, "rlstate.name": "py311", "rlstate.build": want.build_hash}
    return LiveBlueprint(build_id, "py311", status, int(build_id[-1]), meta)


def _plan(loaded: LoadedManifest, *builds: LiveBlueprint) -> Plan:
    return build_plan(loaded, LiveState("demo", blueprints=builds), NOW)


def test_another_stacks_build_of_the_same_definition_is_reused(tmp_path: Path) -> None:
    loaded = _load(tmp_path)

    plan = _plan(loaded, _build(loaded, "bpt_1", stack="other"))

    (create,) = plan.actions
    assert create.id == "create devbox.web" and create.depends_on == ()
    assert create.params_as(DevboxCreate).body["blueprint_id"] == "bpt_1"
    assert "blueprint_name" not in create.params_as(DevboxCreate).body


def test_a_build_under_way_is_waited_for_not_started_again(tmp_path: Path) -> None:
    loaded = _load(tmp_path)

    plan = _plan(loaded, _build(loaded, "bpt_2", status="building"))

    build = plan.action("build blueprint.py311")
    assert build.params_as(BlueprintBuild).wait_for == "bpt_2"
    assert build.reasons == ("a build of this definition is under way (bpt_2)",)
    create = plan.action("create devbox.web")
    assert create.depends_on == ("build blueprint.py311",)
    assert create.params_as(DevboxCreate).body["blueprint_id"] == "${blueprint:py311}"


def test_a_changed_dockerfile_says_so_and_the_plan_file_reads_back(tmp_path: Path) -> None:
    old = _load(tmp_path)
    # The old build carries the metadata rlstate writes at build time.
    written = _plan(old).action("build blueprint.py311").params_as(BlueprintBuild)
    live = LiveBlueprint("bpt_3", "py311", "build_complete", 3, dict(written.body["metadata"]))
    changed = _load(tmp_path, "FROM ubuntu:24.04\n")

    plan = _plan(changed, live)

    build = plan.action("build blueprint.py311")
    assert build.reasons == ("changed: dockerfile",)
    assert build.params_as(BlueprintBuild).body["dockerfile"] == "FROM ubuntu:24.04\n"
    save_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan


def test_builds_of_a_blueprint_no_longer_declared_go_unless_a_devbox_uses_them(
    tmp_path: Path,
) -> None:
    loaded = _load(tmp_path)
    gone = {"rlstate.stack": "demo", "rlstate.name": "py310"}
    used = LiveBlueprint("bpt_5", "py310", "build_complete", 5, gone)
    unused = LiveBlueprint("bpt_6", "py310", "build_complete", 6, gone)
    box = LiveDevbox("dbx_1", "old", "running", 1, {"rlstate.stack": "demo"}, blueprint_id="bpt_5")
    live = LiveState("demo", devboxes=(box,), blueprints=(used, unused, _build(loaded, "bpt_7")))

    plan = build_plan(loaded, live, NOW)

    deletes = [a for a in plan.actions if a.resource == "blueprint"]
    assert [(a.kind, a.resource_id, a.reasons) for a in deletes] == [
        ("delete", "bpt_6", ("not in manifest",))
    ]


def test_the_build_placeholder_resolves_to_the_id_the_build_recorded() -> None:
    body = {"blueprint_id": "${blueprint:py311}"}
    assert resolve(body, {"blueprint:py311": "bpt_9"}, {}).value == {"blueprint_id": "bpt_9"}


def test_status_shows_each_blueprints_build_and_its_drift(tmp_path: Path) -> None:
    from reconcile.commands.status import build_status

    loaded = _load(tmp_path)
    current = _build(loaded, "bpt_1")
    in_sync = build_status(LiveState("demo", blueprints=(current,)), _plan(loaded, current), NOW)
    changed = _load(tmp_path, "FROM ubuntu:24.04\n")
    drifted = build_status(LiveState("demo", blueprints=(current,)), _plan(changed, current), NOW)

    row = {"address": "blueprint.py311", "id": "bpt_1", "state": "build_complete"}
    assert {**row, "drift": None} in in_sync["resources"]
    assert {**row, "drift": "build"} in drifted["resources"]
