"""SDK sweep, blueprints: create with await_build_complete / create_and_await_build_complete,
logs, list (name, status, paging), preview, delete (refused while snapshots derive from it),
metadata keys, list_public, and devboxes started from a blueprint by id and by name."""

from __future__ import annotations

from typing import Any

import pytest
from runloop_api_client import BadRequestError, NotFoundError, Runloop, RunloopError
from sdk_support import FAST, high_level

DOCKERFILE = "FROM ubuntu:22.04\nARG WHO=nobody\nRUN echo built-for-$WHO > /home/user/who.txt\n"


def test_build_then_devboxes_by_id_and_name(sdk: Runloop) -> None:
    started = sdk.blueprints.create(
        name="base",
        dockerfile=DOCKERFILE,
        build_args={"WHO": "sweep"},
        system_setup_commands=["echo setup >> /home/user/who.txt"],
        launch_parameters={"launch_commands": ["echo launched > /home/user/l.txt"]},
        metadata={"team": "infra"},
    )
    assert started.status == "build_complete"  # a small build is done before create answers
    built = sdk.blueprints.await_build_complete(started.id, polling_config=FAST)
    assert built.status == "build_complete" and built.build_finish_time_ms is not None
    assert built.parameters.build_args == {"WHO": "sweep"} and built.metadata == {"team": "infra"}
    messages = [log.message for log in sdk.blueprints.logs(started.id).logs]
    assert messages[0] == "build started" and messages[-1] == "build complete"

    by_id = sdk.devboxes.create_and_await_running(blueprint_id=started.id)
    by_name = sdk.devboxes.create_and_await_running(blueprint_name="base")
    assert (by_id.blueprint_id, by_name.blueprint_id) == (started.id, started.id)
    assert by_name.launch_parameters.launch_commands == ["echo launched > /home/user/l.txt"]
    out = sdk.devboxes.execute(by_name.id, command="cat who.txt l.txt").stdout
    assert out == "built-for-sweep\nsetup\nlaunched\n"


def test_a_failing_build_raises_and_logs_why(sdk: Runloop) -> None:
    with pytest.raises(RunloopError, match="non-built terminal state: failed"):
        sdk.blueprints.create_and_await_build_complete(
            name="broken", system_setup_commands=["echo nope; exit 3"], polling_config=FAST
        )
    failed = sdk.blueprints.list(name="broken").blueprints[0]
    assert (failed.status, failed.failure_reason) == ("failed", "build_failed")
    assert "command 'echo nope; exit 3' exited 3" in [
        log.message for log in sdk.blueprints.logs(failed.id).logs
    ]
    with pytest.raises(BadRequestError, match="blueprint_name"):
        sdk.devboxes.create(blueprint_name="broken")


def test_list_preview_metadata_and_public(sdk: Runloop) -> None:
    for n in range(3):
        sdk.blueprints.create_and_await_build_complete(
            name=f"bp-{n}", metadata={"n": str(n)}, polling_config=FAST
        )
    assert [b.name for b in sdk.blueprints.list(status="build_complete")] == [
        "bp-2",
        "bp-1",
        "bp-0",
    ]
    page = sdk.blueprints.list(limit=2)
    assert (len(page.blueprints), page.has_more, page.total_count) == (2, True, 3)
    assert list(sdk.blueprints.list_public()) == []
    assert sdk.get("/v1/blueprints/metadata/keys", cast_to=object) == {"keys": ["n"]}
    values = sdk.get("/v1/blueprints/metadata/keys/n/values", cast_to=object)
    assert values == {"key": "n", "values": ["0", "1", "2"]}
    assert sdk.get("/v1/blueprints/public/metadata/keys", cast_to=object) == {"keys": []}

    preview = sdk.blueprints.preview(
        name="p", dockerfile="FROM ubuntu:22.04", system_setup_commands=["apt-get install -y jq"]
    )
    assert preview.dockerfile == "FROM ubuntu:22.04\nRUN apt-get install -y jq\n"


def test_delete_waits_for_derived_snapshots(sdk: Runloop) -> None:
    bpt = sdk.blueprints.create_and_await_build_complete(name="del", polling_config=FAST)
    box = sdk.devboxes.create_and_await_running(blueprint_id=bpt.id)
    snap = sdk.devboxes.snapshot_disk(box.id)
    assert snap.source_blueprint_id == bpt.id
    with pytest.raises(BadRequestError, match=snap.id):
        sdk.blueprints.delete(bpt.id)
    sdk.devboxes.disk_snapshots.delete(snap.id)
    assert sdk.blueprints.delete(bpt.id) == {}
    with pytest.raises(NotFoundError):
        sdk.blueprints.retrieve(bpt.id)


def test_high_level_blueprint_wrappers(local_server: Any) -> None:
    rl = high_level(local_server)
    blueprint = rl.blueprint.create(
        name="hl", system_setup_commands=["echo hl > /home/user/hl.txt"], polling_config=FAST
    )
    assert blueprint.get_info().status == "build_complete"
    assert [b.id for b in rl.blueprint.list(name="hl")] == [blueprint.id]
    assert blueprint.logs().blueprint_id == blueprint.id
    box = blueprint.create_devbox(name="from-hl")
    assert box.file.read(file_path="hl.txt") == "hl\n"
    by_name = rl.devbox.create_from_blueprint_name("hl")
    by_id = rl.devbox.create_from_blueprint_id(blueprint.id)
    assert by_name.get_info().blueprint_id == by_id.get_info().blueprint_id == blueprint.id
    box.shutdown()
    assert rl.blueprint.from_id(blueprint.id).delete() == {}
