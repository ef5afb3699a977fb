"""Deleting a disk snapshot on the local server, by the snapshot's status, as the API answers it:
only a `complete` one can be deleted; one that ended in `error` is a permanent 409 and stays
listed; one still in progress is a 409 that may pass later; a deleted one is a 404."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from localapi_support import running_devbox

SNAPSHOTS = "/v1/devboxes/disk_snapshots"
REFUSED = "Only successfully created snapshots can be deleted"


def _snapshot(local_server: Any, api: httpx.Client, status: str) -> str:
    devbox = running_devbox(api)
    if status == "error":
        local_server.control("/_local/faults", {"snapshot_error_rate": 1.0})
    if status == "in_progress":
        local_server.control("/_local/speed", {"snapshot_extra_seconds": 30})
    snap = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk_async", json={}).json()
    local_server.control("/_local/faults", {"snapshot_error_rate": 0.0})
    if status == "deleted":
        assert api.post(f"{SNAPSHOTS}/{snap['id']}/delete").status_code == 200
    seen = api.get(f"{SNAPSHOTS}/{snap['id']}/status").json()["status"]
    assert seen == status
    return str(snap["id"])


@pytest.mark.parametrize(
    "status,code,message,retry",
    [
        ("complete", 200, None, None),
        ("error", 409, REFUSED, "false"),
        ("in_progress", 409, "still in progress", None),
        ("deleted", 404, "not found", None),
    ],
    ids=["complete-deleted", "error-permanent-409", "in-progress-409", "deleted-404"],
)
def test_delete_answers_by_status(
    local_server: Any,
    api: httpx.Client,
    status: str,
    code: int,
    message: str | None,
    retry: str | None,
) -> None:
    snap_id = _snapshot(local_server, api, status)
    answer = api.post(f"{SNAPSHOTS}/{snap_id}/delete")
    assert answer.status_code == code, answer.text
    assert answer.headers.get("x-should-retry") == retry
    if message is None:
        assert answer.json() == {}
        return
    assert message in answer.json()["message"]


def test_a_refused_error_snapshot_stays_listed_and_its_metadata_can_change(
    local_server: Any, api: httpx.Client
) -> None:
    snap_id = _snapshot(local_server, api, "error")
    assert api.post(f"{SNAPSHOTS}/{snap_id}/delete").status_code == 409
    assert snap_id in {s["id"] for s in api.get(SNAPSHOTS).json()["snapshots"]}
    marked = api.post(f"{SNAPSHOTS}/{snap_id}", json={"metadata": {"k": "v"}})
    assert marked.status_code == 200 and marked.json()["metadata"] == {"k": "v"}
    assert api.get(f"{SNAPSHOTS}/{snap_id}/status").json()["status"] == "error"
