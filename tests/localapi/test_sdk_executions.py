"""SDK sweep, commands: execute (known id, optimistic wait), execute_async, execute_sync,
execute_and_await_completion, executions.* (retrieve, await_completed, kill, the output streams)
and the devbox logs built from them, called through the official SDK as its docstrings show."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runloop_api_client import Runloop
from runloop_api_client.types import DevboxView


@pytest.fixture
def box(sdk: Runloop) -> Iterator[DevboxView]:
    yield sdk.devboxes.create_and_await_running(
        name="commands", launch_parameters={"launch_commands": ["echo booted"]}
    )


def test_execute_with_a_command_id_is_idempotent_and_can_return_running(
    sdk: Runloop, box: DevboxView
) -> None:
    first = sdk.devboxes.execute(box.id, command="echo one", command_id="cmd-1")
    again = sdk.devboxes.execute(box.id, command="echo two", command_id="cmd-1")
    assert (first.status, first.stdout) == ("completed", "one\n")
    assert (again.execution_id, again.stdout) == (first.execution_id, "one\n")

    slow = sdk.devboxes.execute(box.id, command="sleep 1; echo late", optimistic_timeout=0)
    assert slow.status == "running" and slow.exit_status is None
    done = sdk.devboxes.executions.await_completed(slow.execution_id, devbox_id=box.id)
    assert (done.status, done.exit_status, done.stdout) == ("completed", 0, "late\n")


def test_execute_async_retrieve_wait_and_last_n(sdk: Runloop, box: DevboxView) -> None:
    started = sdk.devboxes.execute_async(box.id, command="seq 1 5; echo bad >&2; exit 2")
    waited = sdk.devboxes.wait_for_command(
        started.execution_id, devbox_id=box.id, statuses=["completed"]
    )
    assert (waited.exit_status, waited.stdout, waited.stderr) == (2, "1\n2\n3\n4\n5\n", "bad\n")
    tail = sdk.devboxes.executions.retrieve(started.execution_id, devbox_id=box.id, last_n="2")
    assert (tail.stdout, tail.stdout_truncated) == ("4\n5\n", True)

    result = sdk.devboxes.execute_and_await_completion(box.id, command="pwd; whoami")
    assert result.stdout == "/home/user\nuser\n"
    sync = sdk.devboxes.execute_sync(box.id, command="echo synced")  # deprecated, still served
    assert (sync.exit_status, sync.stdout) == (0, "synced\n")
    also = sdk.devboxes.executions.execute_async(box.id, command="echo via-executions")
    assert sdk.devboxes.executions.await_completed(also.execution_id, devbox_id=box.id).stdout == (
        "via-executions\n"
    )


def test_kill_ends_a_running_command_with_137(sdk: Runloop, box: DevboxView) -> None:
    started = sdk.devboxes.execute_async(box.id, command="sleep 60")
    killed = sdk.devboxes.executions.kill(started.execution_id, devbox_id=box.id)
    assert (killed.status, killed.exit_status) == ("completed", 137)


def test_output_streams_from_an_offset(sdk: Runloop, box: DevboxView) -> None:
    started = sdk.devboxes.execute_async(box.id, command="echo alpha; echo beta; echo oops >&2")
    sdk.devboxes.executions.await_completed(started.execution_id, devbox_id=box.id)
    stream = sdk.devboxes.executions.stream_stdout_updates
    whole = "".join(c.output for c in stream(started.execution_id, devbox_id=box.id))
    rest = "".join(c.output for c in stream(started.execution_id, devbox_id=box.id, offset="6"))
    errors = sdk.devboxes.executions.stream_stderr_updates(started.execution_id, devbox_id=box.id)
    assert (whole, rest) == ("alpha\nbeta\n", "beta\n")
    assert [c.output for c in errors] == ["oops\n"]


def test_logs_show_launch_commands_and_executions(sdk: Runloop, box: DevboxView) -> None:
    ran = sdk.devboxes.execute(box.id, command="echo out; echo err >&2; exit 3")
    logs = sdk.devboxes.logs.list(box.id).logs
    setup = [entry for entry in logs if entry.source == "setup_commands"]
    assert [(e.cmd, e.message, e.exit_code) for e in setup] == [
        ("echo booted", None, None),
        (None, "booted", None),
        (None, None, 0),
    ]
    mine = sdk.devboxes.logs.list(box.id, execution_id=ran.execution_id).logs
    assert [(e.source, e.level, e.cmd, e.message, e.exit_code) for e in mine] == [
        ("exec", "info", "echo out; echo err >&2; exit 3", None, None),
        ("exec", "info", None, "out", None),
        ("exec", "error", None, "err", None),
        ("exec", "info", None, None, 3),
    ]
    assert {e.cmd_id for e in mine} == {ran.execution_id}
    assert [e.timestamp_ms for e in logs] == sorted(e.timestamp_ms for e in logs)
