"""Strict input: wrong types are a 400 naming the field on every route (refused features too),
before anything else; x-request-id reused for another request is a 409 naming the header; paths
with a trailing slash and calls the API documents for running devboxes answer as the API does."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from localapi_support import running_devbox
from request_types_gen import SPEC, TABLE, build, render

from tests.conftest import shared_path


def _refusal(reply: httpx.Response, status: int = 400) -> str:
    assert reply.status_code == status, reply.text
    message: str = reply.json()["message"]
    return message


def test_the_type_table_is_current_with_the_openapi_description() -> None:
    from conformance_support import spec_dict

    spec = spec_dict(shared_path("runloop-openapi", SPEC.name))
    assert TABLE.read_text(encoding="utf-8") == render(build(spec)), (
        "request_types.json is stale: run python tests/localapi/request_types_gen.py"
    )


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("execute_sync", {"command": "true", "attach_stdin": "not-a-boolean"}, "attach_stdin: "),
        ("execute", {"command": 5}, "command: must be a string"),
        ("execute_async", {"command": "true", "shell_name": ["x"]}, "shell_name: must be a string"),
        ("write_file_contents", {"file_path": "a", "contents": {}}, "contents: must be a string"),
        ("wait_for_status", {"statuses": ["running", 7]}, "statuses[1]: must be a string"),
        ("wait_for_status", {"statuses": ["running"], "timeout_seconds": "1"}, "timeout_seconds"),
    ],
)
def test_wrong_types_on_emulated_routes_name_the_field(
    api: httpx.Client, path: str, body: dict[str, Any], message: str
) -> None:
    devbox = running_devbox(api)
    reply = api.post(f"/v1/devboxes/{devbox['id']}/{path}", json=body)
    assert _refusal(reply).startswith(message)


def test_a_fraction_of_a_second_is_still_a_valid_long_poll_hold(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    wait = {"statuses": ["running"], "timeout_seconds": 0.5}
    assert api.post(f"/v1/devboxes/{devbox['id']}/wait_for_status", json=wait).status_code == 200
    reply = api.post("/v1/devboxes", json={"launch_parameters": {"keep_alive_time_seconds": 1.5}})
    assert _refusal(reply).startswith("launch_parameters.keep_alive_time_seconds: must be an int")


NETWORK = "/v1/network-policies"


@pytest.mark.parametrize(
    ("method", "path", "bad", "message", "fine"),
    [
        ("POST", "/v1/secrets", {"name": 5, "value": "v"}, "name: must be a", {"name": "n"}),
        ("POST", NETWORK, {"allowed_hostnames": "x"}, "allowed_hostnames: must", {"name": "n"}),
        ("POST", "/v1/devboxes/{id}/enable_tunnel", {"wake_on_http": "yes"}, "wake_on_http:", {}),
        ("GET", "/v1/secrets?limit=many", None, "limit: must be an integer", None),
        ("GET", "/v1/axons?include_total_count=perhaps", None, "include_total_count: ", None),
        ("POST", "/v1/secrets", b"{not json", "body: not valid JSON", None),
    ],
)
def test_refused_features_check_types_first(
    api: httpx.Client, method: str, path: str, bad: Any, message: str, fine: Any
) -> None:
    devbox = running_devbox(api)
    path = path.replace("{id}", devbox["id"])
    content = bad if isinstance(bad, bytes) else None if bad is None else json.dumps(bad)
    headers = {"content-type": "application/json"}
    reply = api.request(method, path, content=content, headers=headers)
    assert _refusal(reply).startswith(message)
    if fine is not None:  # well-typed: the feature's own refusal
        assert "not supported" in _refusal(api.request(method, path, json=fine))


def test_the_secret_value_never_appears_in_a_refusal(api: httpx.Client) -> None:
    reply = api.post("/v1/secrets", json={"name": 12, "value": "hunter2-secret"})
    assert "hunter2" not in reply.text
    assert "hunter2" not in _refusal(api.post("/v1/secrets", json={"name": "n", "value": 7}))


def test_a_request_id_replayed_for_the_same_call_returns_the_stored_answer(
    api: httpx.Client,
) -> None:
    headers = {"x-request-id": "replay-same-1"}
    first = api.post("/v1/objects", json={"name": "a", "content_type": "text"}, headers=headers)
    again = api.post("/v1/objects", json={"name": "a", "content_type": "text"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert (again.json()["id"], again.headers["x-idempotent-replay"]) == (
        first.json()["id"],
        "true",
    )


@pytest.mark.parametrize("change", ["body", "path", "method"])
def test_a_request_id_reused_for_another_request_is_a_conflict(
    api: httpx.Client, change: str
) -> None:
    headers = {"x-request-id": f"reused-{change}"}
    first = api.post("/v1/objects", json={"name": "a", "content_type": "text"}, headers=headers)
    assert first.status_code == 200
    if change == "body":
        other = api.post("/v1/objects", json={"name": "b", "content_type": "text"}, headers=headers)
    elif change == "path":
        other = api.post("/v1/devboxes", json={"name": "a"}, headers=headers)
    else:
        other = api.get("/v1/objects", headers=headers)
    message = _refusal(other, 409)
    assert message.startswith("x-request-id: ") and "POST /v1/objects" in message
    assert other.headers["x-should-retry"] == "false"
    assert [o["name"] for o in api.get("/v1/objects").json()["objects"]] == ["a"]
    assert api.get("/v1/devboxes").json()["devboxes"] == []


def test_a_multipart_retry_with_a_new_boundary_is_the_same_request(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    headers = {"x-request-id": "upload-retry-1"}
    path = f"/v1/devboxes/{devbox['id']}/upload_file"
    answers = [
        api.post(path, data={"path": "up.txt"}, files={"file": ("f", b"data")}, headers=headers)
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert answers[1].headers.get("x-idempotent-replay") == "true"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_trailing_slash_is_no_such_endpoint_not_a_redirect(
    api: httpx.Client, method: str
) -> None:
    reply = api.request(method, "/v1/devboxes/", json={} if method == "POST" else None)
    assert "trailing slash" in _refusal(reply, 404)
    assert api.get("/v1/devboxes").json()["devboxes"] == []


def test_keep_alive_needs_a_running_devbox_and_update_stays_open(api: httpx.Client) -> None:
    devbox = running_devbox(api)
    assert api.post(f"/v1/devboxes/{devbox['id']}/keep_alive").status_code == 200
    assert api.post(f"/v1/devboxes/{devbox['id']}/shutdown").status_code == 200
    refusal = _refusal(api.post(f"/v1/devboxes/{devbox['id']}/keep_alive"))
    assert "is shutdown" in refusal and "running" in refusal
    renamed = api.post(f"/v1/devboxes/{devbox['id']}", json={"metadata": {"done": "yes"}})
    assert (renamed.status_code, renamed.json()["metadata"]) == (200, {"done": "yes"})
