"""SDK sweep, devbox lifecycle: the official SDK's `devboxes` resource called as its docstrings
show (create, retrieve, list, update, keep_alive, suspend/resume with their awaits, shutdown,
usage, metadata keys), asserting on the effects the local server really has."""

from __future__ import annotations

from typing import Any

import pytest
from runloop_api_client import NotFoundError, Runloop, RunloopError
from runloop_api_client.types import DevboxView
from sdk_support import message_of


def test_create_retrieve_update_and_list_by_status(sdk: Runloop) -> None:
    created = sdk.devboxes.create(name="sweep", metadata={"team": "infra", "tier": "1"})
    assert created.status in ("provisioning", "initializing", "running")
    running = sdk.devboxes.await_running(created.id)
    assert running.status == "running" and running.name == "sweep"
    assert [t.status for t in running.state_transitions][-1] == "running"

    renamed = sdk.devboxes.update(created.id, name="renamed")
    assert (renamed.name, renamed.metadata) == ("renamed", {"team": "infra", "tier": "1"})
    assert sdk.devboxes.update(created.id, metadata={"tier": "2"}).metadata == {"tier": "2"}
    assert sdk.devboxes.retrieve(created.id).name == "renamed"

    other = sdk.devboxes.create(name="other")
    sdk.devboxes.shutdown(other.id)
    running_ids = [d.id for d in sdk.devboxes.list(status="running")]
    assert running_ids == [created.id]
    assert [d.id for d in sdk.devboxes.list(status="shutdown")] == [other.id]
    page = sdk.devboxes.list(limit=1, include_total_count=False)
    assert len(page.devboxes) == 1 and page.has_more and page.total_count is None


@pytest.mark.parametrize("status", ["queued", "scheduled"])
def test_statuses_only_the_sdk_knows_are_valid_filters(sdk: Runloop, status: Any) -> None:
    sdk.devboxes.create_and_await_running()
    assert list(sdk.devboxes.list(status=status)) == []  # the local server never queues


def test_suspend_resume_keep_alive_and_shutdown(sdk: Runloop) -> None:
    box = sdk.devboxes.create_and_await_running(name="lifecycle")
    assert sdk.devboxes.keep_alive(box.id) == {}
    sdk.devboxes.suspend(box.id)
    assert sdk.devboxes.await_suspended(box.id).status == "suspended"
    sdk.devboxes.resume(box.id)
    assert sdk.devboxes.await_running(box.id).status == "running"
    statuses = [t.status for t in sdk.devboxes.retrieve(box.id).state_transitions]
    assert statuses[-4:] == ["suspending", "suspended", "resuming", "running"]

    done = sdk.devboxes.shutdown(box.id, force="true")
    assert (done.status, done.shutdown_reason) == ("shutdown", "api_shutdown")
    assert done.end_time_ms is not None
    assert sdk.devboxes.shutdown(box.id).status == "shutdown"  # a repeat is harmless
    with pytest.raises(RunloopError, match="non-running terminal state: shutdown"):
        sdk.devboxes.await_running(box.id)


def test_a_failing_launch_command_makes_await_running_raise(sdk: Runloop) -> None:
    box = sdk.devboxes.create(launch_parameters={"launch_commands": ["exit 4"]})
    with pytest.raises(RunloopError, match="non-running terminal state: failure"):
        sdk.devboxes.await_running(box.id)
    assert sdk.devboxes.retrieve(box.id).failure_reason == "execution_failed"


def test_an_entrypoint_that_ends_shuts_the_devbox_down(sdk: Runloop) -> None:
    box = sdk.devboxes.create(entrypoint="echo served")
    view = sdk.post(  # the generic long-poll the SDK's await_* helpers are built on
        f"/v1/devboxes/{box.id}/wait_for_status",
        body={"statuses": ["shutdown"], "timeout_seconds": 20},
        cast_to=DevboxView,
    )
    assert (view.status, view.shutdown_reason) == ("shutdown", "entrypoint_exit")


def test_usage_counts_suspended_time_for_disk_only(sdk: Runloop, local_server: Any) -> None:
    box = sdk.devboxes.create_and_await_running(
        launch_parameters={"resource_size_request": "MEDIUM"}  # 2 vCPU, 4 GiB, 8 GiB disk
    )
    sdk.devboxes.suspend(box.id)
    sdk.devboxes.await_suspended(box.id)
    local_server.control("/_local/clock", {"advance_seconds": 1000})
    sdk.devboxes.resume(box.id)
    sdk.devboxes.await_running(box.id)
    local_server.control("/_local/clock", {"advance_seconds": 100})
    sdk.devboxes.shutdown(box.id)

    usage = sdk.devboxes.retrieve_resource_usage(box.id)
    assert (usage.id, usage.status, usage.start_time_ms) == (box.id, "shutdown", box.create_time_ms)
    assert usage.end_time_ms == sdk.devboxes.retrieve(box.id).end_time_ms
    assert 1100 <= usage.total_elapsed_seconds < 1110
    assert 100 <= usage.total_active_seconds < 110  # the 1000 s suspended are left out
    assert usage.vcpu_seconds == 2 * usage.total_active_seconds
    assert usage.memory_gb_seconds == 4 * usage.total_active_seconds
    assert usage.disk_gb_seconds == 8 * usage.total_elapsed_seconds


def test_metadata_keys_and_values_of_devboxes(sdk: Runloop) -> None:
    sdk.devboxes.create(metadata={"team": "infra", "env": "dev"})
    sdk.devboxes.create(metadata={"team": "ml"})
    keys = sdk.get("/v1/devboxes/metadata/keys", cast_to=object)
    assert keys == {"keys": ["env", "team"]}
    values = sdk.get("/v1/devboxes/metadata/keys/team/values", cast_to=object)
    assert values == {"key": "team", "values": ["infra", "ml"]}


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.devboxes.retrieve("dbx_missing"),
        lambda s: s.devboxes.update("dbx_missing", name="x"),
        lambda s: s.devboxes.suspend("dbx_missing"),
        lambda s: s.devboxes.retrieve_resource_usage("dbx_missing"),
        lambda s: s.devboxes.logs.list("dbx_missing"),
    ],
    ids=["retrieve", "update", "suspend", "usage", "logs"],
)
def test_unknown_devbox_ids_raise_not_found(sdk_no_retry: Runloop, call: Any) -> None:
    with pytest.raises(NotFoundError) as missing:
        call(sdk_no_retry)
    assert "dbx_missing" in message_of(missing.value)  # the devbox, not the endpoint, is unknown
