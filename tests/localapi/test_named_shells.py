"""Named shells (`shell_name` on execute, execute_async, execute_sync): the working directory and
exported environment carry from one command of a shell to the next, commands of one shell run one
at a time in order, other shells and unnamed commands are unaffected, and the state lasts as long as
the devbox's files (a restart keeps it; a devbox made from a snapshot starts without it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import StartServer
from localapi_support import client_for, running_devbox

SHOW = 'pwd; echo "V=${V-unset}"'


def _exec(api: httpx.Client, devbox_id: str, command: str, shell: str | None) -> dict[str, Any]:
    body = {"command": command, "shell_name": shell, "optimistic_timeout": 25}
    reply = api.post(f"/v1/devboxes/{devbox_id}/execute", json=body)
    assert reply.status_code == 200, reply.text
    view: dict[str, Any] = reply.json()
    assert view["status"] == "completed", view
    return view


def _async(api: httpx.Client, devbox_id: str, command: str, shell: str | None) -> dict[str, Any]:
    body = {"command": command, "shell_name": shell}
    reply = api.post(f"/v1/devboxes/{devbox_id}/execute_async", json=body)
    assert reply.status_code == 200, reply.text
    view: dict[str, Any] = reply.json()
    return view


def _completed(api: httpx.Client, devbox_id: str, execution_id: str) -> dict[str, Any]:
    reply = api.post(
        f"/v1/devboxes/{devbox_id}/executions/{execution_id}/wait_for_status",
        json={"statuses": ["completed"], "timeout_seconds": 25},
    )
    assert reply.status_code == 200, reply.text
    view: dict[str, Any] = reply.json()
    return view


@pytest.mark.parametrize("mode", ["bubblewrap", "subprocess"])
def test_a_named_shell_keeps_cwd_and_env_and_others_do_not_see_them(
    start_server: StartServer, mode: str
) -> None:
    if mode == "bubblewrap" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    with client_for(start_server(sandbox_mode=mode)) as api:
        box = running_devbox(api)["id"]
        home = _exec(api, box, "pwd", None)["stdout"].strip()  # subprocess mode: a host folder
        setup = _exec(api, box, "mkdir w && cd w && export V=42", "work")
        assert (setup["exit_status"], setup["shell_name"]) == (0, "work")

        assert _exec(api, box, SHOW, "work")["stdout"] == f"{home}/w\nV=42\n"
        assert _exec(api, box, SHOW, None)["stdout"] == f"{home}\nV=unset\n"
        assert _exec(api, box, SHOW, "other")["stdout"] == f"{home}\nV=unset\n"

        _exec(api, box, "unset V; mkdir 'a dir' && cd 'a dir'", "work")
        shown = _exec(api, box, SHOW + "; exit 3", "work")
        assert (shown["stdout"], shown["exit_status"]) == (f"{home}/w/a dir\nV=unset\n", 3)

        other = running_devbox(api)["id"]  # the same name on another devbox: another shell
        assert _exec(api, other, "pwd", "work")["stdout"] == f"{home.replace(box, other)}\n"


def test_commands_of_one_shell_run_one_at_a_time_in_order(api: httpx.Client) -> None:
    box = running_devbox(api)["id"]
    gate = "while [ ! -f go ]; do sleep 0.05; done; echo one >> order"
    first = _async(api, box, gate, "queue")
    second = _async(api, box, "echo two >> order; cat order", "queue")
    assert second["status"] == "queued"  # the shell is busy until `go` exists

    opened = _exec(api, box, "touch go && echo opened", None)  # not held up by the shell
    assert opened["stdout"] == "opened\n"
    assert _completed(api, box, first["execution_id"])["exit_status"] == 0
    assert _completed(api, box, second["execution_id"])["stdout"] == "one\ntwo\n"


def test_a_queued_command_that_is_killed_never_runs(api: httpx.Client) -> None:
    box = running_devbox(api)["id"]
    first = _async(api, box, "while [ ! -f go ]; do sleep 0.05; done", "q")
    second = _async(api, box, "touch ran", "q")
    killed = api.post(f"/v1/devboxes/{box}/executions/{second['execution_id']}/kill", json={})
    assert (killed.json()["status"], killed.json()["exit_status"]) == ("completed", 137)
    _exec(api, box, "touch go", None)
    _completed(api, box, first["execution_id"])
    after = _exec(api, box, "ls ran 2>/dev/null || echo absent", "q")
    assert after["stdout"] == "absent\n"


def test_shell_state_survives_a_restart_but_not_a_snapshot_restore(
    start_server: StartServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    with client_for(first) as api:
        box = running_devbox(api)["id"]
        _exec(api, box, "mkdir -p /home/user/w && cd /home/user/w && export V=kept", "s")
        snap = api.post(f"/v1/devboxes/{box}/snapshot_disk", json={}).json()
    first.stop()

    second = start_server(data)
    with client_for(second) as api:
        assert _exec(api, box, SHOW, "s")["stdout"] == "/home/user/w\nV=kept\n"
        restored = running_devbox(api, snapshot_id=snap["id"])["id"]
        shown = _exec(api, restored, SHOW, "s")["stdout"]
        assert shown == "/home/user\nV=unset\n"
