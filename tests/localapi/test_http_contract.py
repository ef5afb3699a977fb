"""The local server's HTTP contract: auth, error bodies, status codes, long-polls, conflicts and
idempotency, checked with a plain HTTP client over a real socket."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from localapi_support import run, running_devbox


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v1/devboxes"),
        ("POST", "/v1/devboxes"),
        ("GET", "/v1/objects"),
        ("GET", "/_local/info"),
        ("POST", "/_local/reset"),
    ],
    ids=["list-devboxes", "create-devbox", "list-objects", "local-info", "local-reset"],
)
@pytest.mark.parametrize(
    "auth", [None, "Bearer wrong", "Basic abc"], ids=["none", "wrong", "basic"]
)
def test_requests_without_the_token_get_401_json(
    local_server: Any, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    reply = httpx.request(method, local_server.url + path, headers=headers)
    assert reply.status_code == 401
    assert "message" in reply.json()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": 5}, "name"),
        ({"metadata": {"a": 1}}, "metadata"),
        ({"launch_parameters": {"resource_size_request": "HUGE"}}, "resource_size_request"),
        ({"launch_parameters": {"launch_commands": "echo"}}, "launch_commands"),
        ({"blueprint_id": "bpt_x", "snapshot_id": "snp_y"}, "snapshot_id"),
        ({"snapshot_id": "snp_unknown"}, "snapshot_id"),
        ({"mounts": [{"type": "file_mount", "target": "../../etc/x", "content": "x"}]}, "target"),
        (
            {"mounts": [{"type": "object_mount", "object_id": "obj_x", "object_path": "/x"}]},
            "object_id",
        ),
        ({"colour": "red"}, "colour"),
    ],
    ids=[
        "name-type",
        "metadata-values",
        "size-enum",
        "commands-type",
        "two-sources",
        "unknown-snapshot",
        "mount-escape",
        "unknown-object",
        "unknown-field",
    ],
)
def test_bad_create_bodies_get_400_naming_the_field(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    reply = api.post("/v1/devboxes", json=body)
    assert reply.status_code == 400, reply.text
    assert field in reply.json()["message"]


@pytest.mark.parametrize(
    "content",
    [b"", b"null", b"{}", b"{not json", b"[1, 2]"],
    ids=["empty", "null", "obj", "bad", "list"],
)
def test_create_accepts_empty_and_null_bodies_and_refuses_garbage(
    api: httpx.Client, content: bytes
) -> None:
    reply = api.post("/v1/devboxes", content=content, headers={"content-type": "application/json"})
    expected = 400 if content in (b"{not json", b"[1, 2]") else 200
    assert reply.status_code == expected, reply.text


def test_null_optional_fields_are_accepted_and_defaults_echoed(api: httpx.Client) -> None:
    reply = api.post(
        "/v1/devboxes",
        json={"name": None, "blueprint_id": None, "launch_parameters": {"launch_commands": None}},
    )
    assert reply.status_code == 200
    view = reply.json()
    assert view["id"].startswith("dbx_") and len(view["id"]) == 25
    assert view["launch_parameters"]["keep_alive_time_seconds"] == 3600
    assert view["launch_parameters"]["architecture"] == "x86_64"
    assert isinstance(view["create_time_ms"], int) and view["end_time_ms"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/v1/devboxes/dbx_nope",
        "/v1/objects/obj_nope",
        "/v1/blueprints/bpt_nope",
        "/v1/devboxes/disk_snapshots/snp_nope/status",
        "/v1/devboxes/dbx_a/executions/exn_b",
    ],
)
def test_unknown_ids_get_404_json(api: httpx.Client, path: str) -> None:
    reply = api.get(path)
    assert reply.status_code == 404 and reply.json()["message"]


def test_wait_for_status_holds_then_answers_408(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    reply = api.post(
        f"/v1/devboxes/{devbox['id']}/wait_for_status",
        json={"statuses": ["suspended"], "timeout_seconds": 0.5},
    )
    assert reply.status_code == 408 and "message" in reply.json()


def test_wait_for_status_answers_at_once_for_a_final_status(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    assert api.post(f"/v1/devboxes/{devbox['id']}/shutdown").status_code == 200
    reply = api.post(
        f"/v1/devboxes/{devbox['id']}/wait_for_status",
        json={"statuses": ["running"], "timeout_seconds": 30},
    )
    assert reply.status_code == 200
    view = reply.json()
    assert (view["status"], view["shutdown_reason"]) == ("shutdown", "api_shutdown")
    assert isinstance(view["end_time_ms"], int)


def test_suspend_and_resume_refuse_wrong_states_with_400(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    assert api.post(f"/v1/devboxes/{devbox['id']}/resume").status_code == 400
    assert api.post(f"/v1/devboxes/{devbox['id']}/suspend").status_code == 200
    assert api.post(f"/v1/devboxes/{devbox['id']}/suspend").status_code == 400


def test_shutdown_during_a_snapshot_is_409_unless_forced(
    local_server: Any, api: httpx.Client
) -> None:
    devbox = running_devbox(api)
    local_server.control("/_local/speed", {"snapshot_extra_seconds": 3})
    snap = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk_async", json={}).json()
    assert (
        api.get(f"/v1/devboxes/disk_snapshots/{snap['id']}/status").json()["status"]
        == "in_progress"
    )

    refused = api.post(f"/v1/devboxes/{devbox['id']}/shutdown")
    assert refused.status_code == 409 and "snapshot" in refused.json()["message"]
    assert api.post(f"/v1/devboxes/disk_snapshots/{snap['id']}/delete").status_code == 409

    forced = api.post(f"/v1/devboxes/{devbox['id']}/shutdown", params={"force": "true"})
    assert forced.status_code == 200 and forced.json()["status"] == "shutdown"


def test_completing_an_object_twice_is_a_permanent_409(api: httpx.Client) -> None:
    obj = api.post("/v1/objects", json={"name": "o", "content_type": "text"}).json()
    first = api.post(f"/v1/objects/{obj['id']}/complete", json={})
    assert first.status_code == 200 and first.json()["size_bytes"] == 0
    second = api.post(f"/v1/objects/{obj['id']}/complete")
    assert second.status_code == 409 and second.headers["x-should-retry"] == "false"


def test_same_request_id_twice_creates_one_devbox(api: httpx.Client) -> None:
    headers = {"x-request-id": "stainless-python-retry-fixed-1"}
    first = api.post("/v1/devboxes", json={"name": "once"}, headers=headers)
    second = api.post("/v1/devboxes", json={"name": "once"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["x-idempotent-replay"] == "true"
    assert api.get("/v1/devboxes").json()["total_count"] == 1
    other_path = api.post(
        "/v1/objects", json={"name": "o", "content_type": "text"}, headers=headers
    )
    assert other_path.status_code == 409  # an id names one call; reused elsewhere: a client bug
    assert other_path.json()["message"].startswith("x-request-id: ")
    assert api.get("/v1/objects").json()["objects"] == []


def test_execute_with_a_used_command_id_returns_the_same_execution(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    body = {"command_id": "obj_not-a-uuid", "command": "echo $RANDOM"}
    first = api.post(f"/v1/devboxes/{devbox['id']}/execute", json=body).json()
    second = api.post(f"/v1/devboxes/{devbox['id']}/execute", json=body).json()
    assert first["execution_id"] == second["execution_id"]
    assert first["stdout"] == second["stdout"]


def test_execute_async_kill_and_last_n(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    base = f"/v1/devboxes/{devbox['id']}"
    started = api.post(f"{base}/execute_async", json={"command": "seq 1 5; sleep 60"}).json()
    assert started["status"] == "running" and "exit_status" not in started
    exn = f"{base}/executions/{started['execution_id']}"
    held = api.post(
        f"{exn}/wait_for_status", json={"statuses": ["completed"], "timeout_seconds": 0.3}
    )
    assert held.status_code == 408
    killed = api.post(f"{exn}/kill", json={}).json()
    assert (killed["status"], killed["exit_status"]) == ("completed", 137)
    tail = api.get(exn, params={"last_n": "2"}).json()
    assert (tail["stdout"], tail["stdout_truncated"]) == ("4\n5\n", True)


def test_a_failing_launch_command_fails_the_devbox(api: httpx.Client) -> None:
    created = api.post(
        "/v1/devboxes", json={"launch_parameters": {"launch_commands": ["true", "exit 7"]}}
    ).json()
    view = api.post(
        f"/v1/devboxes/{created['id']}/wait_for_status",
        json={"statuses": ["running"], "timeout_seconds": 30},
    ).json()
    assert (view["status"], view["failure_reason"]) == ("failure", "execution_failed")


def test_file_and_object_mounts_are_written_before_launch_commands(api: httpx.Client) -> None:
    obj = api.post("/v1/objects", json={"name": "cfg.txt", "content_type": "text"}).json()
    assert httpx.put(obj["upload_url"], content=b"from object").status_code == 200
    api.post(f"/v1/objects/{obj['id']}/complete")
    devbox = running_devbox(
        api,
        file_mounts={"legacy.txt": "legacy"},
        mounts=[
            {"type": "object_mount", "object_id": obj["id"], "object_path": "/home/user/cfg.txt"},
            {"type": "file_mount", "target": "/tmp/f.txt", "content": "file mount"},
        ],
        launch_parameters={"launch_commands": ["cat cfg.txt legacy.txt /tmp/f.txt > all.txt"]},
    )
    out = run(api, devbox["id"], "cat all.txt")
    assert out["stdout"] == "from objectlegacyfile mount"


@pytest.mark.parametrize(
    "path", ["../../etc/passwd", "/etc/passwd", "/home/user/../../root/x", "/proc/self/environ"]
)
def test_file_paths_cannot_escape_the_disk(api: httpx.Client, path: str) -> None:
    devbox = running_devbox(api)
    base = f"/v1/devboxes/{devbox['id']}"
    write = api.post(f"{base}/write_file_contents", json={"file_path": path, "contents": "x"})
    assert write.status_code == 400 and "file_path" in write.json()["message"]
    read = api.post(f"{base}/read_file_contents", json={"file_path": path})
    assert read.status_code == 400
    upload = api.post(f"{base}/upload_file", data={"path": path}, files={"file": ("f", b"x")})
    assert upload.status_code == 400


def test_object_names_never_become_paths(api: httpx.Client, local_server: Any) -> None:
    obj = api.post("/v1/objects", json={"name": "../../escape.txt", "content_type": "text"}).json()
    assert httpx.put(obj["upload_url"], content=b"inside").status_code == 200
    api.post(f"/v1/objects/{obj['id']}/complete")
    url = api.get(f"/v1/objects/{obj['id']}/download").json()["download_url"]
    assert httpx.get(url).content == b"inside"
    assert not (local_server.data_dir.parent / "escape.txt").exists()
    listed = api.get("/v1/objects", params={"name": "escape"}).json()["objects"]
    assert [o["id"] for o in listed] == [obj["id"]]


def test_signed_urls_refuse_tampering_and_work_without_a_key(api: httpx.Client) -> None:
    obj = api.post("/v1/objects", json={"name": "s", "content_type": "binary"}).json()
    upload_url = obj["upload_url"]
    assert (
        httpx.put(upload_url.replace("signature=", "signature=0"), content=b"x").status_code == 403
    )
    assert httpx.get(upload_url).status_code == 403  # an upload URL does not allow reading
    assert httpx.put(upload_url, content=b"ok").status_code == 200
    api.post(f"/v1/objects/{obj['id']}/complete")
    assert httpx.put(upload_url, content=b"later").status_code == 409  # READ_ONLY now


def test_snapshot_list_filters_by_metadata(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    ids = {}
    for tier in ("gold", "silver", "bronze"):
        snap = api.post(
            f"/v1/devboxes/{devbox['id']}/snapshot_disk",
            json={"metadata": {"tier": tier, "s": "x"}},
        )
        assert snap.status_code == 200, snap.text
        ids[tier] = snap.json()["id"]
    listed = api.get("/v1/devboxes/disk_snapshots", params={"metadata[tier][in]": "gold,bronze"})
    assert {s["id"] for s in listed.json()["snapshots"]} == {ids["gold"], ids["bronze"]}
    one = api.get(
        "/v1/devboxes/disk_snapshots", params={"metadata[tier]": "silver", "metadata[s]": "x"}
    )
    assert [s["id"] for s in one.json()["snapshots"]] == [ids["silver"]]
    by_box = api.get("/v1/devboxes/disk_snapshots", params={"devbox_id": devbox["id"], "limit": 2})
    assert by_box.json()["has_more"] is True and by_box.json()["total_count"] == 3
    assert api.post(f"/v1/devboxes/disk_snapshots/{ids['gold']}/delete").status_code == 200
    status = api.get(f"/v1/devboxes/disk_snapshots/{ids['gold']}/status").json()
    assert status["status"] == "deleted"
    assert api.post(f"/v1/devboxes/disk_snapshots/{ids['gold']}/delete").status_code == 404


def test_restore_from_a_snapshot_still_in_progress_waits_for_it(
    local_server: Any, api: httpx.Client
) -> None:
    devbox = running_devbox(api)
    run(api, devbox["id"], "echo saved > saved.txt")
    local_server.control("/_local/speed", {"snapshot_extra_seconds": 1})
    snap = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk_async").json()
    restored = api.post("/v1/devboxes", json={"snapshot_id": snap["id"]}).json()
    assert restored["status"] == "provisioning"
    view = api.post(
        f"/v1/devboxes/{restored['id']}/wait_for_status",
        json={"statuses": ["running"], "timeout_seconds": 30},
    ).json()
    assert view["status"] == "running"
    assert (
        api.get(f"/v1/devboxes/disk_snapshots/{snap['id']}/status").json()["status"] == "complete"
    )
    assert run(api, restored["id"], "cat saved.txt")["stdout"] == "saved\n"


def test_a_repeat_arriving_while_the_first_runs_gets_the_same_answer(
    local_server: Any, api: httpx.Client
) -> None:
    devbox = running_devbox(api)
    local_server.control("/_local/speed", {"snapshot_extra_seconds": 1})
    path = f"/v1/devboxes/{devbox['id']}/snapshot_disk"
    headers = {"x-request-id": "slow-retry"}
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _n: api.post(path, json={}, headers=headers), range(2)))
    assert [r.status_code for r in replies] == [200, 200]
    assert replies[0].json()["id"] == replies[1].json()["id"]
    listed = api.get("/v1/devboxes/disk_snapshots", params={"devbox_id": devbox["id"]}).json()
    assert listed["total_count"] == 1


def test_update_keeps_absent_fields_and_clears_with_empty_values(api: httpx.Client) -> None:
    devbox = api.post("/v1/devboxes", json={"name": "n", "metadata": {"a": "1"}}).json()
    path = f"/v1/devboxes/{devbox['id']}"
    assert api.post(path, json={"metadata": {"b": "2"}}).json()["name"] == "n"
    cleared = api.post(path, json={"name": "", "metadata": {}}).json()
    assert "name" not in cleared and cleared["metadata"] == {}
    assert api.post(path).json()["metadata"] == {}


def _read_answer(sock: socket.socket) -> bytes:
    """One HTTP/1.1 answer (Content-Length framed); its head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection instead of answering: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    fields = dict(line.split(b":", 1) for line in head.lower().split(b"\r\n")[1:])
    while len(body) < int(fields[b"content-length"]):
        body += sock.recv(65536)
    return head


def test_a_refusal_before_the_body_arrived_keeps_the_connection_usable(
    local_server: Any,
) -> None:
    # The route refuses an unknown id without reading the body. The answer used to go out before
    # the body arrived, and the server then closed the connection under the client's next request.
    host, port = local_server.url.removeprefix("http://").split(":")
    auth = f"Authorization: Bearer {local_server.token}\r\nHost: {host}\r\n".encode()
    head = b"POST /v1/blueprints/bpt_000000000000000000000/delete HTTP/1.1\r\n" + auth
    head += b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)  # the body comes later, as it may from any client
        sock.settimeout(2)
        try:
            early = sock.recv(65536)  # answered before the body came: the old behaviour
        except TimeoutError:
            early = b""
        sock.settimeout(30)
        sock.sendall(b"{}")
        if not early:
            assert _read_answer(sock).startswith(b"HTTP/1.1 404")
        sock.sendall(b"GET /v1/devboxes HTTP/1.1\r\n" + auth + b"\r\n")
        assert _read_answer(sock).startswith(b"HTTP/1.1 200")
