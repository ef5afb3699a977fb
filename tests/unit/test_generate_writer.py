"""The manifest `rlstate generate` writes, from API answers: valid, readable, adopting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reconcile.api.models import Blueprint, Devbox, Snapshot
from reconcile.generate.writer import Account, manifest_name, render_manifest
from reconcile.live.discovery import _blueprint as discovery_blueprint
from reconcile.live.discovery import _devbox as discovery_devbox
from reconcile.live.model import Imported, LiveState
from reconcile.manifest import load_manifest
from reconcile.plan.planner import build_plan

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _box(i: str, name: str | None, **extra: object) -> Devbox:
    data = {"id": i, "status": "running", "create_time_ms": 1, "name": name, **extra}
    return Devbox.model_validate(data)


def test_names_become_manifest_names_once_each() -> None:
    taken: set[str] = set()
    assert manifest_name("My Box!", "dbx_A", taken) == "my-box"
    assert manifest_name("my box", "dbx_B", taken) == "my-box-2"
    assert manifest_name(None, "dbx_0Vd9XYZ", taken) == "devbox-0vd9xyz"
    assert manifest_name("dbx_looks_like_an_id", "dbx_Q1", taken) == "devbox-q1"


def test_the_manifest_validates_and_adopts_what_it_names(tmp_path: Path) -> None:
    launch = {
        "resource_size_request": "LARGE",
        "architecture": "arm64",
        "keep_alive_time_seconds": 7 * 86400,  # more than a manifest takes: a comment
        "after_idle": {"idle_time_seconds": 1800, "on_idle": "suspend"},
        "launch_commands": ["echo hi"],
    }
    boxes = (
        _box("dbx_1", "api", blueprint_id="bpt_1", launch_parameters=launch),
        _box("dbx_2", "Worker", snapshot_id="snp_0", status="suspended", metadata={"a": "b"}),
    )
    snaps = tuple(
        Snapshot(id=f"snp_{n}", create_time_ms=n, source_devbox_id="dbx_1") for n in range(1, 4)
    )
    owned = Snapshot(
        id="snp_9", create_time_ms=9, source_devbox_id="dbx_1", metadata={"rlstate.stack": "x"}
    )
    blueprints = (Blueprint(id="bpt_1", name="base", status="build_complete", create_time_ms=1),)
    account = Account(boxes, (*snaps, owned), blueprints, ("dbx_3 (db): stack 'x' manages it",))

    text = render_manifest(account, "onboard", "https://api.example")
    path = tmp_path / "rlstate.yaml"
    path.write_text(text)
    manifest = load_manifest(path).manifest

    api = manifest.devboxes["api"]
    assert (api.blueprint, api.resource_size, api.architecture) == ("base", "LARGE", "arm64")
    assert api.keep_alive is None and "# keep_alive of 604800s is beyond" in text
    assert api.idle is not None and api.idle.action == "suspend"
    assert api.launch_commands == ["echo hi"]
    worker = manifest.devboxes["worker"]
    assert (worker.from_snapshot, worker.state, worker.metadata) == (
        "snp_0",
        "suspended",
        {"a": "b"},
    )
    assert manifest.snapshots["api"].keep.last == 3  # the other stack's snapshot is not counted
    assert [(i.to, i.id, i.devbox) for i in manifest.imports] == [
        ("devbox.api", "dbx_1", None),
        ("snapshot.api", None, "dbx_1"),
        ("devbox.worker", "dbx_2", None),
    ]
    assert "# left out: dbx_3 (db): stack 'x' manages it" in text


def _bpt(i: str, name: str, parameters: dict[str, object] | None, **extra: object) -> Blueprint:
    data = {"id": i, "name": name, "status": "build_complete", "create_time_ms": 1, **extra}
    return Blueprint.model_validate({**data, "parameters": parameters})


DOCKERFILE = 'FROM ubuntu:22.04\nARG PY=3.11\nRUN echo "py $PY"  \\\n  > /tmp/py\n\n'


def test_used_builds_become_declared_blueprints_the_plan_adopts_as_they_are(
    tmp_path: Path,
) -> None:
    """Written from the echoed definitions, read back, planned against the same builds: every
    build is adopted (no build, no replacement) except the one with what a manifest cannot say."""
    py = {"name": "py", "dockerfile": DOCKERFILE, "build_args": {"PY": "3.12"}}
    app = {"name": "app", "base_blueprint_name": "py", "system_setup_commands": ["make"]}
    builds = (
        _bpt("bpt_py", "py", py, metadata={"team": "core", "rlstate.x": "y"}),
        _bpt("bpt_app", "app", app, base_blueprint_id="bpt_py"),
        _bpt("bpt_fm", "Files!", {"name": "Files!", "file_mounts": {"/a": "secret-ish"}}),
        _bpt("bpt_old", "old", None),
        _bpt("bpt_apq", "apq", None),  # close to `app`: named by id
        _bpt("bpt_unused", "unused", {"name": "unused"}),
    )
    boxes = tuple(
        _box(f"dbx_{n}", f"box{n}", blueprint_id=bpt)
        for n, bpt in enumerate(
            ["bpt_py", "bpt_app", "bpt_app", "bpt_fm", "bpt_old", "bpt_gone", "bpt_apq"]
        )
    )
    text = render_manifest(Account(boxes, (), builds), "onboard", "local")
    path = tmp_path / "rlstate.yaml"
    path.write_text(text)
    manifest = load_manifest(path).manifest

    assert sorted(manifest.blueprints) == ["app", "files", "py"]
    assert manifest.blueprints["py"].dockerfile == DOCKERFILE  # a literal block, read back exact
    assert "dockerfile: |" in text
    assert manifest.blueprints["py"].metadata == {"team": "core"}
    assert manifest.blueprints["app"].base == "py"
    assert "# built with file_mounts, which a manifest blueprint cannot declare" in text
    assert "secret-ish" not in text
    assert "bpt_old (old): the API does not echo what it was built from" in text
    assert "bpt_gone is not listed in this account" in text
    refs = [manifest.devboxes[f"box{n}"].blueprint for n in range(7)]
    assert refs == ["py", "app", "app", "files", "old", "bpt_gone", "bpt_apq"]
    assert [(i.to, i.id) for i in manifest.imports[:3]] == [
        ("blueprint.app", "bpt_app"),
        ("blueprint.files", "bpt_fm"),
        ("blueprint.py", "bpt_py"),
    ]

    loaded = load_manifest(path)
    live = LiveState(
        "onboard",
        blueprints=tuple(discovery_blueprint(b) for b in builds),
        imported=Imported(devboxes={b.id: discovery_devbox(b) for b in boxes}),
    )
    plan = build_plan(loaded, live, NOW)
    kinds = {(a.kind, a.address) for a in plan.actions}
    assert {k for k in kinds if k[1].startswith("blueprint.")} == {
        ("adopt", "blueprint.py"),
        ("adopt", "blueprint.app"),
        ("build", "blueprint.files"),
    }
    adopted = {("adopt", f"devbox.box{n}") for n in (0, 1, 2, 4, 5, 6)}
    assert adopted <= kinds  # on the build the plan uses: nothing to replace
    assert ("replace", "devbox.box3") in kinds  # its build is made again without file_mounts
