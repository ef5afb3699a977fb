"""The unified sandbox client `hyperterse-sandboxer` (its Runloop provider, raw HTTP over httpx)
against the local server, unchanged, with `base_url` pointed at it: create (also from a blueprint
name), info, commands, files, list, pause/resume, attach, kill. Two things of its own are worked
around, not faked: it does not wait for a new or paused devbox to settle (it maps `provisioning`
and `suspending` to its own starting/paused), so the test polls as a user must; and its
`read_file` parses the `text/plain` answer of read_file_contents as JSON, which fails on Runloop
too, so contents are read with `cat`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sandboxer import (
    CreateSandboxRequest,
    ListSandboxesFilter,
    NotFoundError,
    RunCommandRequest,
    Sandboxer,
    SandboxStatus,
)


@pytest.fixture
def sandboxer(local_server: Any) -> Iterator[Sandboxer]:
    client = Sandboxer("runloop", {"api_key": local_server.token, "base_url": local_server.url})
    yield client
    client.close()


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120  # generous: the machine may be busy
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in time"
        time.sleep(0.05)


def _run(sandbox: Any, command: str) -> Any:
    return sandbox.run_command(RunCommandRequest(cmd=command))


def test_sandbox_commands_files_and_lifecycle(sandboxer: Sandboxer, api: httpx.Client) -> None:
    sandbox, info = sandboxer.create_sandbox(
        CreateSandboxRequest(envs={"WHO": "sandboxer"}, metadata={"team": "agents"})
    )
    assert info.status in (SandboxStatus.STARTING, SandboxStatus.RUNNING)
    _until(sandbox.is_running, "running")
    assert api.get(f"/v1/devboxes/{sandbox.id}").json()["metadata"] == {"team": "agents"}

    ran = _run(sandbox, "echo hi $WHO; echo err >&2; exit 2")
    assert (ran.stdout, ran.stderr, ran.exit_code) == ("hi sandboxer\n", "err\n", 2)

    sandbox.make_dir("/home/user/work")
    sandbox.write_file("/home/user/work/notes.txt", "héllo\n".encode())
    assert _run(sandbox, "cat /home/user/work/notes.txt").stdout == "héllo\n"
    assert [f.path for f in sandbox.list_directory("/home/user/work")] == [
        "/home/user/work/notes.txt"
    ]
    assert sandbox.exists("/home/user/work/notes.txt")

    assert sandbox.id in {s.id for s in sandboxer.list_sandboxes()}  # it asks for limit=5000
    assert len(sandboxer.list_sandboxes(ListSandboxesFilter(limit=1))) == 1

    sandbox.pause()
    assert sandbox.info().status == SandboxStatus.PAUSED
    _until(lambda: api.get(f"/v1/devboxes/{sandbox.id}").json()["status"] == "suspended", "suspend")
    sandbox.resume()
    _until(sandbox.is_running, "resume")
    assert _run(sandbox, "cat /home/user/work/notes.txt").stdout == "héllo\n"  # the disk stayed

    assert sandboxer.attach_sandbox(sandbox.id).id == sandbox.id
    sandbox.remove("/home/user/work")
    assert not sandbox.exists("/home/user/work")
    sandbox.kill()
    assert sandbox.info().status == SandboxStatus.STOPPED
    with pytest.raises(NotFoundError):
        sandboxer.attach_sandbox("dbx_does_not_exist")


def test_sandbox_from_a_blueprint_name(sandboxer: Sandboxer, api: httpx.Client) -> None:
    built = api.post(
        "/v1/blueprints",
        json={"name": "agent-tools", "system_setup_commands": ["echo ready > /home/user/tools"]},
    )
    assert built.status_code == 200, built.text
    blueprint_id = built.json()["id"]
    _until(
        lambda: api.get(f"/v1/blueprints/{blueprint_id}").json()["status"] == "build_complete",
        "the build",
    )
    sandbox, _ = sandboxer.create_sandbox(CreateSandboxRequest(template="agent-tools"))
    _until(sandbox.is_running, "running")
    assert _run(sandbox, "cat /home/user/tools").stdout == "ready\n"
    assert api.get(f"/v1/devboxes/{sandbox.id}").json()["blueprint_id"] == blueprint_id
    sandboxer.kill_sandbox(sandbox.id)
