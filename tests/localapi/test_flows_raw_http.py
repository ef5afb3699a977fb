"""The flows of tests/data/arazzo/ again as raw HTTP, for what Arazzo cannot express: the exact
status transitions, which fields are present, header values (content types, replays), the
pagination fields, and refusals of filters that would otherwise be ignored. Every 200 answer is
validated against the OpenAPI description; every other answer must be a JSON `message`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conformance_support import (
    RecordingTransport,
    exchanges_problems,
    load_spec,
)
from localapi_support import run, running_devbox
from openapi_core import OpenAPI

from tests.conftest import shared_path

SNAPSHOTS = "/v1/devboxes/disk_snapshots"


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return load_spec(shared_path("runloop-openapi", "runloop-api-openapi.yml"))


@pytest.fixture
def raw(local_server: Any, spec: OpenAPI) -> Iterator[httpx.Client]:
    """An httpx client whose every exchange is checked against the spec when the test ends."""
    transport = RecordingTransport()
    headers = {"Authorization": f"Bearer {local_server.token}"}
    with httpx.Client(
        base_url=local_server.url, headers=headers, timeout=60, transport=transport
    ) as client:
        yield client
    problems = exchanges_problems(spec, transport.exchanges)
    assert not problems, "\n".join(problems)


def _statuses(view: dict[str, Any]) -> list[str]:
    return [t["status"] for t in view["state_transitions"]]


def test_suspend_resume_shutdown_transitions_in_order(raw: httpx.Client) -> None:
    box = running_devbox(raw)
    path = f"/v1/devboxes/{box['id']}"
    assert raw.post(f"{path}/suspend").json()["status"] == "suspending"
    wait = {"statuses": ["suspended"], "timeout_seconds": 30}
    assert raw.post(f"{path}/wait_for_status", json=wait).json()["status"] == "suspended"
    assert raw.post(f"{path}/resume").json()["status"] == "resuming"
    wait = {"statuses": ["running"], "timeout_seconds": 30}
    assert raw.post(f"{path}/wait_for_status", json=wait).json()["status"] == "running"
    view = raw.post(f"{path}/shutdown").json()
    assert _statuses(view) == [
        "provisioning",
        "initializing",
        "running",
        "suspending",
        "suspended",
        "resuming",
        "running",
        "shutdown",
    ]
    times = [t["transition_time_ms"] for t in view["state_transitions"]]
    assert times == sorted(times) and all(isinstance(t, int) for t in times)
    assert view["end_time_ms"] == times[-1] and view["shutdown_reason"] == "api_shutdown"
    assert "failure_reason" not in view
    assert box["end_time_ms"] is None  # required and nullable: present as null while alive


def test_execution_views_carry_output_only_once_completed(raw: httpx.Client) -> None:
    box = running_devbox(raw)
    started = raw.post(
        f"/v1/devboxes/{box['id']}/execute_async", json={"command": "echo a; sleep 60"}
    ).json()
    assert set(started) == {"devbox_id", "execution_id", "status"}
    assert started["status"] == "running"
    path = f"/v1/devboxes/{box['id']}/executions/{started['execution_id']}"
    killed = raw.post(f"{path}/kill", json={"kill_process_group": True}).json()
    assert killed["status"] == "completed" and killed["exit_status"] == 137
    assert {"stdout", "stderr", "stdout_truncated", "stderr_truncated"} <= set(killed)
    assert raw.get(path).json() == killed


def test_execute_sync_answers_the_execution_detail_view(raw: httpx.Client) -> None:
    box = running_devbox(raw)
    reply = raw.post(
        f"/v1/devboxes/{box['id']}/execute_sync", json={"command": "echo x; exit 5"}
    ).json()
    assert {k: reply[k] for k in ("devbox_id", "stdout", "stderr", "exit_status")} == {
        "devbox_id": box["id"],
        "stdout": "x\n",
        "stderr": "",
        "exit_status": 5,
    }


def test_file_answers_have_the_documented_content_types(raw: httpx.Client) -> None:
    box = running_devbox(raw)
    path = f"/v1/devboxes/{box['id']}"
    raw.post(f"{path}/write_file_contents", json={"file_path": "d/a.txt", "contents": "é\n"})
    text = raw.post(f"{path}/read_file_contents", json={"file_path": "d/a.txt"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == "é\n"
    data = raw.post(f"{path}/download_file", json={"path": "d/a.txt"})
    assert data.headers["content-type"] == "application/octet-stream"
    assert data.headers["content-disposition"].startswith('attachment; filename="a.txt"')
    assert data.content == "é\n".encode()
    upload = raw.post(
        f"{path}/upload_file", data={"path": "bin/b"}, files={"file": ("b", b"\x00\xff")}
    )
    assert (upload.status_code, upload.json()) == (200, {})
    assert run(raw, box["id"], "od -An -tx1 bin/b")["stdout"].split() == ["00", "ff"]


def test_pagination_fields(raw: httpx.Client) -> None:
    ids = [
        raw.post("/v1/objects", json={"name": f"p{n}", "content_type": "text"}).json()["id"]
        for n in range(3)
    ]
    first = raw.get("/v1/objects", params={"limit": 2}).json()
    assert set(first) == {"objects", "has_more", "total_count"}  # never remaining_count
    page = [o["id"] for o in first["objects"]]
    assert (page, first["has_more"], first["total_count"]) == ([ids[2], ids[1]], True, 3)
    params = {"limit": 2, "starting_after": ids[1], "include_total_count": "false"}
    last = raw.get("/v1/objects", params=params).json()
    assert set(last) == {"objects", "has_more"} and last["has_more"] is False
    assert [o["id"] for o in last["objects"]] == [ids[0]]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/objects", {"state": "GONE"}, "state"),
        ("/v1/objects", {"content_type": "text/plain"}, "content_type"),
        ("/v1/devboxes", {"status": "stopped"}, "status"),
        ("/v1/blueprints", {"status": "done"}, "status"),
        (SNAPSHOTS, {"metadata[]": "x"}, "metadata[]"),
        (SNAPSHOTS, {"metadata[team][eq]": "x"}, "metadata[team][eq]"),
        (SNAPSHOTS, {"metadata": "team"}, "metadata"),
    ],
    ids=[
        "object-state",
        "object-mime-type",
        "devbox-status",
        "blueprint-status",
        "metadata-no-key",
        "metadata-unknown-operator",
        "metadata-bare",
    ],
)
def test_list_filters_outside_the_spec_are_refused_naming_the_parameter(
    raw: httpx.Client, path: str, params: dict[str, str], field: str
) -> None:
    """A filter the server does not understand must not be ignored (that lists everything)."""
    reply = raw.get(path, params=params)
    assert reply.status_code == 400, reply.text
    assert reply.json()["message"].startswith(f"{field}: ")


def test_object_states_through_download_and_delete(raw: httpx.Client) -> None:
    created = raw.post("/v1/objects", json={"name": "o.bin", "content_type": "binary"}).json()
    assert created["state"] == "UPLOADING" and "size_bytes" not in created
    oid = created["id"]
    early = raw.get(f"/v1/objects/{oid}/download")
    assert early.status_code == 400  # not completed yet
    httpx.put(created["upload_url"], content=b"12345").raise_for_status()
    done = raw.post(f"/v1/objects/{oid}/complete").json()
    assert (done["state"], done["size_bytes"]) == ("READ_ONLY", 5) and "upload_url" not in done
    url = raw.get(f"/v1/objects/{oid}/download").json()["download_url"]
    got = httpx.get(url)
    assert (got.content, got.headers["content-type"]) == (b"12345", "application/octet-stream")
    assert raw.post(f"/v1/objects/{oid}/delete").json()["state"] == "DELETED"
    deleted = raw.get(f"/v1/objects/{oid}/download")
    assert deleted.status_code == 400, deleted.text  # spec: "Object is in deleted state"
    assert "DELETED" in deleted.json()["message"]
    assert raw.get("/v1/objects/obj_000000000000000000000/download").status_code == 404
    listed = raw.get("/v1/objects", params={"state": "DELETED"}).json()["objects"]
    assert [o["id"] for o in listed] == [oid]


def test_snapshot_status_answers_through_its_life(raw: httpx.Client, local_server: Any) -> None:
    box = running_devbox(raw)
    local_server.control("/_local/speed", {"snapshot_extra_seconds": 1.0})
    try:
        snap = raw.post(
            f"/v1/devboxes/{box['id']}/snapshot_disk_async", json={"metadata": {"k": "v"}}
        ).json()
        assert "status" not in snap  # the view has no status; only /status tells
        first = raw.get(f"{SNAPSHOTS}/{snap['id']}/status").json()
        assert first["status"] == "in_progress"
        busy = raw.post(f"{SNAPSHOTS}/{snap['id']}/delete")
        assert busy.status_code == 409
    finally:
        local_server.control("/_local/speed", {"snapshot_extra_seconds": 0})
    shot = raw.post(f"/v1/devboxes/{box['id']}/snapshot_disk", json={}).json()
    assert shot["source_devbox_id"] == box["id"] and shot["metadata"] == {}
    assert raw.post(f"{SNAPSHOTS}/{shot['id']}/delete").json() == {}
    assert raw.get(f"{SNAPSHOTS}/{shot['id']}/status").json() == {"status": "deleted"}


def test_a_repeated_request_id_replays_the_first_answer(raw: httpx.Client) -> None:
    headers = {"x-request-id": "stainless-python-retry-1"}
    first = raw.post("/v1/devboxes", json={"name": "once"}, headers=headers)
    again = raw.post("/v1/devboxes", json={"name": "once"}, headers=headers)
    assert again.headers.get("x-idempotent-replay") == "true"
    assert again.json()["id"] == first.json()["id"]
    listed = raw.get("/v1/devboxes").json()
    assert [d["id"] for d in listed["devboxes"]] == [first.json()["id"]]


def test_long_polls_hold_then_answer_408(raw: httpx.Client) -> None:
    box = running_devbox(raw)
    path = f"/v1/devboxes/{box['id']}"
    held = raw.post(
        f"{path}/wait_for_status", json={"statuses": ["shutdown"], "timeout_seconds": 0.2}
    )
    assert held.status_code == 408
    started = raw.post(f"{path}/execute_async", json={"command": "sleep 60"}).json()
    exn = f"{path}/executions/{started['execution_id']}"
    held = raw.post(
        f"{exn}/wait_for_status", json={"statuses": ["completed"], "timeout_seconds": 0.2}
    )
    assert held.status_code == 408
    now = raw.post(f"{exn}/wait_for_status", json={"statuses": ["running"], "timeout_seconds": 0.2})
    assert now.json()["status"] == "running"
    bad = raw.post(f"{exn}/wait_for_status", json={"statuses": ["failed"]})
    assert bad.status_code == 400 and bad.json()["message"].startswith("statuses: ")
