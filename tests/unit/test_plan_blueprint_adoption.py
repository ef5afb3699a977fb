"""`import: [{to: blueprint.NAME, id: bpt_…}]` in the planner, on hand-built live states: a build
whose echoed definition is the manifest's is used as it is (no build), one that differs is
named field by field and a build is planned, and an adopted build is never deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import AdoptionError, ManifestError
from reconcile.live.model import Imported, LiveBlueprint, LiveDevbox, LiveState
from reconcile.manifest import LoadedManifest, load_manifest
from reconcile.plan.blueprints import desired_blueprints
from reconcile.plan.model import Plan
from reconcile.plan.params import DevboxCreate
from reconcile.plan.planfile import load_plan, save_plan
from reconcile.plan.planner import build_plan
from reconcile.render import render_plan_text

NOW = datetime(2026, 12, 1, tzinfo=UTC)
DOCKERFILE = "FROM ubuntu:22.04\nARG PY\nRUN echo $PY\n"
MANIFEST = """\
version: 1
stack: demo
blueprints:
  py311:
    dockerfile_file: py311.Dockerfile
    build_args: {PY: "3.11"}
    KEEP
  app:
    base: py311
    system_setup_commands: ["echo app"]
devboxes:
  web: {blueprint: app}
import:
  - {to: blueprint.py311, id: bpt_py}
  - {to: blueprint.app, id: bpt_app}
"""


def _load(tmp_path: Path, keep: str = "", imports: bool = True) -> LoadedManifest:
    (tmp_path / "py311.Dockerfile").write_text(DOCKERFILE)
    text = MANIFEST.replace("KEEP", keep)
    if not imports:
        text = text.split("import:")[0]
    (tmp_path / "rlstate.yaml").write_text(text)
    return load_manifest(tmp_path / "rlstate.yaml", {})


def _sdk_build(build_id: str, name: str, *, t: int = 1, **params: Any) -> LiveBlueprint:
    """A build made without rlstate: no marks, its parameters echoed as the API does."""
    status = params.pop("status", "build_complete")
    meta = params.pop("metadata", {})
    base = params.get("base_blueprint_id")
    echoed = None if params.pop("unechoed", False) else {"name": name, **params}
    return LiveBlueprint(build_id, name, status, t, meta, base, echoed)


PY = {"dockerfile": DOCKERFILE, "build_args": {"PY": "3.11"}}
APP = {"base_blueprint_id": "bpt_py", "system_setup_commands": ["echo app"]}


def _plan(
    loaded: LoadedManifest, *builds: LiveBlueprint, boxes: tuple[LiveDevbox, ...] = ()
) -> Plan:
    return build_plan(loaded, LiveState("demo", devboxes=boxes, blueprints=builds), NOW)


def test_matching_builds_are_adopted_and_used_without_building(tmp_path: Path) -> None:
    loaded = _load(tmp_path)

    plan = _plan(loaded, _sdk_build("bpt_py", "python", **PY), _sdk_build("bpt_app", "app", **APP))

    assert [a.id for a in plan.actions] == [
        "adopt blueprint.py311 bpt_py",
        "adopt blueprint.app bpt_app",
        "create devbox.web",
    ]
    create = plan.action("create devbox.web")
    assert create.params_as(DevboxCreate).body["blueprint_id"] == "bpt_app"
    assert create.depends_on == ()
    text = render_plan_text(plan)
    assert "  = adopt blueprint.py311 (bpt_py)" in text
    assert "keep this import entry while the stack uses bpt_py" in text
    assert "Plan: 2 to adopt, 1 to create." in text
    save_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan
    assert plan.fingerprints.keys() >= {"bpt_py", "bpt_app"}  # apply refuses if they change


def test_once_the_stack_uses_an_adopted_build_the_plan_has_no_changes(tmp_path: Path) -> None:
    loaded = _load(tmp_path)
    first = _plan(loaded, _sdk_build("bpt_py", "python", **PY), _sdk_build("bpt_app", "app", **APP))
    meta = first.action("create devbox.web").params_as(DevboxCreate).body["metadata"]
    box = LiveDevbox("dbx_1", "web", "running", 5, {**meta, "rlstate.ready": "true"}, "bpt_app")
    child = _sdk_build("bpt_app", "app", **APP)

    plan = _plan(loaded, _sdk_build("bpt_py", "python", **PY), child, boxes=(box,))

    assert plan.actions == ()  # web uses app's build, which is built on py311's
    text = render_plan_text(plan)
    assert "No changes." in text
    assert "blueprint.app is bpt_app, adopted" in text
    assert "blueprint.py311 is bpt_py, adopted" in text


def test_a_differing_build_is_named_field_by_field_and_a_build_is_planned(tmp_path: Path) -> None:
    loaded = _load(tmp_path)
    other = {
        "dockerfile": "FROM ubuntu:24.04\n",
        "build_args": {"PY": "3.12"},
        "file_mounts": {"/a": "x"},
    }

    plan = _plan(
        loaded, _sdk_build("bpt_py", "python", **other), _sdk_build("bpt_app", "app", **APP)
    )

    build = plan.action("build blueprint.py311")
    assert build.reasons == (
        "import bpt_py differs from the manifest in dockerfile, build_args, file_mounts; it is "
        "left as it is (rlstate did not create it)",
    )
    assert [c.field for c in build.changes] == ["dockerfile", "build_args", "file_mounts"]
    assert build.changes[2].before == "(set)"  # file contents stay out of the plan
    # app's build is on bpt_py, not on the build this plan makes: it is built again too.
    app = plan.action("build blueprint.app")
    assert [c.field for c in app.changes] == ["base"]
    assert app.depends_on == ("build blueprint.py311",)
    assert not [a for a in plan.actions if a.kind in ("delete", "prune")]


def test_keep_never_deletes_an_adopted_build(tmp_path: Path) -> None:
    loaded = _load(tmp_path, keep="keep: {last: 1}")
    want = desired_blueprints(loaded)["py311"]
    marks = {"rlstate.stack": "demo", "rlstate.name": "py311", "rlstate.build": "old"}
    own_old = LiveBlueprint("bpt_o", "py311", "build_complete", 0, marks)
    assert want.build_hash != "old"

    plan = _plan(
        loaded,
        own_old,
        _sdk_build("bpt_py", "python", t=2, **PY),
        _sdk_build("bpt_app", "app", **APP),
    )

    pruned = [(a.kind, a.resource_id) for a in plan.actions if a.kind in ("prune", "delete")]
    assert pruned == [("prune", "bpt_o")]  # the adopted build takes the one slot


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            _sdk_build("bpt_py", "python", metadata={"rlstate.stack": "other"}, **PY),
            "it belongs to stack 'other'",
        ),
        (_sdk_build("bpt_py", "python", status="failed", **PY), "its build is failed"),
        (_sdk_build("bpt_py", "python", unechoed=True), "does not echo what it was built from"),
        (_sdk_build("bpt_zz", "python", **PY), "there is no such blueprint in this account"),
    ],
)
def test_what_cannot_be_adopted_is_refused_with_why(
    tmp_path: Path, build: LiveBlueprint, expected: str
) -> None:
    loaded = _load(tmp_path)

    with pytest.raises(AdoptionError, match=expected) as caught:
        _plan(loaded, build, _sdk_build("bpt_app", "app", **APP))

    assert str(caught.value).startswith("import blueprint.py311 (bpt_py): ")


def test_an_adopted_devbox_is_compared_by_the_build_of_its_blueprint(tmp_path: Path) -> None:
    """On the adopted build, or on any build of the same definition hash: adopted as it is;
    on another build: replaced (refused unless allowed, as for any adopted devbox)."""
    loaded = load_manifest(_write_adopting(tmp_path), {})
    py = _sdk_build("bpt_py", "python", **PY)
    app = _sdk_build("bpt_app", "app", **APP)
    same_hash = LiveBlueprint(
        "bpt_twin",
        "app",
        "build_complete",
        3,
        {"rlstate.stack": "x", "rlstate.build": desired_blueprints(loaded)["app"].build_hash},
    )

    def plan_for(blueprint_id: str) -> Plan:
        box = LiveDevbox("dbx_W", "web", "running", 1, {}, blueprint_id)
        live = LiveState(
            "demo", blueprints=(py, app, same_hash), imported=Imported(devboxes={box.id: box})
        )
        return build_plan(loaded, live, NOW, allow_replace_adopted=True)

    assert "adopt devbox.web" in [a.id for a in plan_for("bpt_app").actions]
    assert "adopt devbox.web" in [a.id for a in plan_for("bpt_twin").actions]
    (replace,) = [a for a in plan_for("bpt_else").actions if a.resource == "devbox"]
    assert replace.kind == "replace"
    assert [(c.field, c.before, c.after) for c in replace.changes] == [
        ("blueprint", "bpt_else", "app (bpt_app)")
    ]


def test_a_devbox_on_a_build_no_import_names_gets_a_hint(tmp_path: Path) -> None:
    """Without `import` for blueprint.app, the SDK build web started from is not used: the
    plan builds app and would replace web, and says which entry would use the build."""
    path = _write_adopting(tmp_path)
    path.write_text(path.read_text().replace("  - {to: blueprint.app, id: bpt_app}\n", ""))
    loaded = load_manifest(path, {})
    box = LiveDevbox("dbx_W", "web", "running", 1, {}, "bpt_app")
    builds = (_sdk_build("bpt_py", "python", **PY), _sdk_build("bpt_app", "app", **APP))
    live = LiveState("demo", blueprints=builds, imported=Imported(devboxes={box.id: box}))

    plan = build_plan(loaded, live, NOW)

    assert [a.id for a in plan.actions][:2] == [
        "adopt blueprint.py311 bpt_py",
        "build blueprint.app",
    ]
    assert [r.action_id for r in plan.refusals] == ["replace devbox.web"]
    assert (
        "devbox.web starts from bpt_app, which no import entry names: if it is built as "
        "blueprint.app declares, add `{to: blueprint.app, id: bpt_app}` to import: to use it as "
        "it is"
    ) in plan.notes


def _write_adopting(tmp_path: Path) -> Path:
    _load(tmp_path)
    path = tmp_path / "rlstate.yaml"
    path.write_text(path.read_text() + "  - {to: devbox.web, id: dbx_W}\n")
    return path


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{to: blueprint.py312, id: bpt_1}", "import[2].to: blueprint.py312 is not declared"),
        ("{to: blueprint.app, id: dbx_1}", "import[2].id: expected a bpt_… id, got 'dbx_1'"),
        ("{to: blueprint.app}", "import[2].to: an import into a blueprint needs `id: bpt_…`"),
    ],
)
def test_a_bad_blueprint_import_is_one_located_line(
    tmp_path: Path, entry: str, expected: str
) -> None:
    _load(tmp_path)
    path = tmp_path / "rlstate.yaml"
    path.write_text(path.read_text().replace("bpt_app}\n", f"bpt_app}}\n  - {entry}\n"))

    with pytest.raises(ManifestError) as caught:
        load_manifest(path, {})

    assert any(expected in str(p) for p in caught.value.problems), caught.value.problems
