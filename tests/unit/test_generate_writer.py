"""The manifest `rlstate generate` writes, from API answers: valid, readable, adopting."""

from __future__ import annotations

from pathlib import Path

from reconcile.api.models import Blueprint, Devbox, Snapshot
from reconcile.generate.writer import Account, manifest_name, render_manifest
from reconcile.manifest import load_manifest


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
