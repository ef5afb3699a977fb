"""Emulated blueprint builds: setup commands and Dockerfile RUN lines baked into an image that
devboxes start from."""

from __future__ import annotations

import time
from typing import Any

import httpx
from localapi_support import run, running_devbox


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
    assert created.json()["status"] == "queued"
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
