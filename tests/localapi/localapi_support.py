"""Helpers shared by the local server's tests (plain functions over an httpx client)."""

from __future__ import annotations

from typing import Any

import httpx

from reconcile.localapi import RunningServer


def client_for(server: RunningServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=60
    )


def running_devbox(api: httpx.Client, **body: Any) -> dict[str, Any]:
    """Create a devbox and wait until it runs (fails the test otherwise)."""
    created = api.post("/v1/devboxes", json=body)
    assert created.status_code == 200, created.text
    devbox_id = created.json()["id"]
    waited = api.post(
        f"/v1/devboxes/{devbox_id}/wait_for_status",
        json={"statuses": ["running"], "timeout_seconds": 30},
    )
    assert waited.status_code == 200, waited.text
    view: dict[str, Any] = waited.json()
    assert view["status"] == "running", view
    return view


def run(api: httpx.Client, devbox_id: str, command: str) -> dict[str, Any]:
    """Run a command to the end and return the execution view."""
    reply = api.post(
        f"/v1/devboxes/{devbox_id}/execute",
        json={"command": command, "command_id": None, "optimistic_timeout": 25},
    )
    assert reply.status_code == 200, reply.text
    view: dict[str, Any] = reply.json()
    assert view["status"] == "completed", view
    return view
