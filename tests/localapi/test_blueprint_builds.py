"""Emulated blueprint builds: setup commands and Dockerfile RUN lines baked into an image that
devboxes start from."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from conftest import StartServer
from localapi_support import client_for, run, running_devbox


def wait_built(api: httpx.Client, blueprint_id: str) -> dict[str, Any]:
    """Poll like the SDK's await_build_complete (blueprints have no long-poll)."""
    deadline = time.monotonic() + 120  # generous: the machine may be busy
    while time.monotonic() < deadline:
        view: dict[str, Any] = api.get(f"/v1/blueprints/{blueprint_id}").json()
        if view["status"] in ("build_complete", "failed"):
            return view
        time.sleep(0.02)
    raise AssertionError("the build did not finish within 120 s")


def test_build_then_devbox_by_name_starts_from_the_image(api: httpx.Client) -> None:
    created = api.post(
        "/v1/blueprints",
        json={
            "name": "py",
            "dockerfile": "FROM ubuntu\nENV TOOL=hammer\nRUN echo $TOOL > /home/user/tool.txt \\\n"
            "    && echo second >> /home/user/tool.txt\nCOPY . /app\n",
            "system_setup_commands": ["echo setup > /home/user/setup.txt"],
            "launch_parameters": {"resource_size_request": "MEDIUM"},
            "metadata": {"team": "infra"},
        },
    )
    assert created.status_code == 200, created.text
    assert created.json()["status"] == "build_complete"  # small: done before the answer
    first_poll = api.get(f"/v1/blueprints/{created.json()['id']}").json()
    assert first_poll["status"] == "build_complete"
    built = wait_built(api, created.json()["id"])
    assert built["status"] == "build_complete" and isinstance(built["build_finish_time_ms"], int)
    assert built["parameters"]["system_setup_commands"] == ["echo setup > /home/user/setup.txt"]

    devbox = running_devbox(api, blueprint_name="py")
    assert devbox["blueprint_id"] == built["id"]
    assert devbox["launch_parameters"]["resource_size_request"] == "MEDIUM"  # inherited
    assert run(api, devbox["id"], "cat tool.txt setup.txt")["stdout"] == "hammer\nsecond\nsetup\n"

    listed = api.get("/v1/blueprints", params={"name": "py"}).json()
    assert [b["id"] for b in listed["blueprints"]] == [built["id"]]
    snap = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk").json()
    assert snap["source_blueprint_id"] == built["id"]
    assert api.post(f"/v1/blueprints/{built['id']}/delete").status_code == 400  # a snapshot uses it
    assert api.post(f"/v1/devboxes/disk_snapshots/{snap['id']}/delete").status_code == 200
    assert api.post(f"/v1/blueprints/{built['id']}/delete").status_code == 200
    assert api.get(f"/v1/blueprints/{built['id']}").status_code == 404


def test_failing_setup_fails_the_build_and_logs_why(api: httpx.Client) -> None:
    created = api.post(
        "/v1/blueprints", json={"name": "broken", "system_setup_commands": ["echo nope; exit 3"]}
    ).json()
    built = wait_built(api, created["id"])
    assert (built["status"], built["failure_reason"]) == ("failed", "build_failed")
    logs = api.get(f"/v1/blueprints/{created['id']}/logs").json()["logs"]
    messages = [line["message"] for line in logs]
    assert "nope" in messages
    refused = api.post("/v1/devboxes", json={"blueprint_name": "broken"})
    assert refused.status_code == 400 and "blueprint_name" in refused.json()["message"]


def _gated_build(api: httpx.Client, gate: Path, name: str, then: str) -> dict[str, Any]:
    """A build that waits until `gate` exists on the host (subprocess sandbox), then runs `then`."""
    wait = f"while [ ! -f {gate} ]; do sleep 0.05; done; {then}"
    reply = api.post("/v1/blueprints", json={"name": name, "system_setup_commands": [wait]})
    assert reply.status_code == 200, reply.text
    view: dict[str, Any] = reply.json()
    assert view["status"] in ("queued", "provisioning", "building")  # held at the gate
    return view


def _status(api: httpx.Client, path: str) -> str:
    status: str = api.get(path).json()["status"]
    return status


def _wait_devbox(api: httpx.Client, devbox_id: str, statuses: list[str]) -> dict[str, Any]:
    body = {"statuses": statuses, "timeout_seconds": 30}
    view: dict[str, Any] = api.post(f"/v1/devboxes/{devbox_id}/wait_for_status", json=body).json()
    return view


def test_a_devbox_from_a_blueprint_still_building_waits_in_provisioning(
    start_server: StartServer, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with client_for(start_server(sandbox_mode="subprocess")) as api:
        bpt = _gated_build(api, gate, "slow", "echo built > $HOME/built.txt")
        by_id = api.post("/v1/devboxes", json={"blueprint_id": bpt["id"]}).json()
        by_name = api.post("/v1/devboxes", json={"blueprint_name": "slow"}).json()
        assert by_name["blueprint_id"] == bpt["id"]
        for devbox in (by_id, by_name):
            assert _status(api, f"/v1/devboxes/{devbox['id']}") == "provisioning"
        assert _status(api, f"/v1/blueprints/{bpt['id']}") == "building"

        gate.touch()
        for devbox in (by_id, by_name):
            assert _wait_devbox(api, devbox["id"], ["running"])["status"] == "running"
            assert run(api, devbox["id"], "cat built.txt")["stdout"] == "built\n"
        assert _status(api, f"/v1/blueprints/{bpt['id']}") == "build_complete"


def test_a_devbox_waiting_for_a_build_that_fails_fails_too(
    start_server: StartServer, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with client_for(start_server(sandbox_mode="subprocess")) as api:
        bpt = _gated_build(api, gate, "doomed", "exit 3")
        devbox = api.post("/v1/devboxes", json={"blueprint_id": bpt["id"]}).json()
        gate.touch()
        ended = _wait_devbox(api, devbox["id"], ["failure"])
        assert (ended["status"], ended["failure_reason"]) == ("failure", "execution_failed")
        assert _status(api, f"/v1/blueprints/{bpt['id']}") == "failed"


def test_a_restart_during_the_build_fails_the_devbox_waiting_for_it(
    start_server: StartServer, tmp_path: Path
) -> None:
    data, gate = tmp_path / "data", tmp_path / "gate"
    first = start_server(data, sandbox_mode="subprocess")
    with client_for(first) as api:
        bpt = _gated_build(api, gate, "cut", "true")
        devbox = api.post("/v1/devboxes", json={"blueprint_name": "cut"}).json()
    first.stop()

    with client_for(start_server(data, sandbox_mode="subprocess")) as api:
        assert _status(api, f"/v1/blueprints/{bpt['id']}") == "failed"
        assert _wait_devbox(api, devbox["id"], ["failure"])["status"] == "failure"
