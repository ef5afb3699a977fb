"""The /_local/ controls: clock, speed, faults (error answers, dropped connections, failing
snapshots), info, reset and bulk seeding."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import StartServer
from localapi_support import client_for, running_devbox
from runloop_api_client import APIConnectionError, InternalServerError, RateLimitError, Runloop

DAY_SECONDS = 86400


def test_clock_offset_moves_every_timestamp(local_server: Any, api: httpx.Client) -> None:
    now_ms = local_server.control("/_local/clock")["now_ms"]
    clock = local_server.control("/_local/clock", {"offset_seconds": -3 * DAY_SECONDS})
    assert clock["offset_seconds"] == -3 * DAY_SECONDS
    devbox = running_devbox(api)
    days_old = (now_ms - devbox["create_time_ms"]) / 1000 / DAY_SECONDS
    assert 2.9 < days_old < 3.1
    snap = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk").json()
    assert abs(snap["create_time_ms"] - devbox["create_time_ms"]) < 60_000
    advanced = local_server.control("/_local/clock", {"advance_seconds": DAY_SECONDS})
    assert advanced["offset_seconds"] == -2 * DAY_SECONDS


def test_every_answer_is_dated_by_the_backend_clock(local_server: Any, api: httpx.Client) -> None:
    from email.utils import parsedate_to_datetime

    local_server.control("/_local/clock", {"offset_seconds": 365 * DAY_SECONDS})
    now_ms = local_server.control("/_local/clock")["now_ms"]
    for reply in (api.get("/v1/devboxes"), httpx.get(f"{local_server.url}/v1/devboxes")):
        (date,) = reply.headers.get_list("date")  # one Date, the backend's (401 too)
        assert abs(parsedate_to_datetime(date).timestamp() * 1000 - now_ms) < 60_000
    local_server.control("/_local/clock", {"offset_seconds": 0})


def test_speed_sets_the_transition_time(local_server: Any, api: httpx.Client) -> None:
    speed = local_server.control("/_local/speed", {"transition_seconds": 5})
    assert speed["transition_seconds"] == 5
    created = api.post("/v1/devboxes").json()
    held = api.post(
        f"/v1/devboxes/{created['id']}/wait_for_status",
        json={"statuses": ["running"], "timeout_seconds": 0.3},
    )
    assert held.status_code == 408  # still provisioning


@pytest.mark.parametrize("status,error", [(503, InternalServerError), (429, RateLimitError)])
def test_injected_error_answers_reach_the_sdk(
    local_server: Any, sdk_no_retry: Runloop, status: int, error: type[Exception]
) -> None:
    local_server.control("/_local/faults", {"rate": 1.0, "statuses": [status], "retry_after": 0.01})
    with pytest.raises(error):
        sdk_no_retry.devboxes.list()
    assert (
        local_server.control("/_local/info")["counts"]["devboxes"] == 0
    )  # /_local is never faulted


def test_faults_never_touch_signed_urls(local_server: Any, api: httpx.Client) -> None:
    obj = api.post("/v1/objects", json={"name": "f", "content_type": "text"}).json()
    local_server.control("/_local/faults", {"rate": 1.0, "drop_rate": 1.0})
    assert httpx.put(obj["upload_url"], content=b"x").status_code == 200


def test_sdk_retries_through_injected_errors(local_server: Any, sdk: Runloop) -> None:
    local_server.control(
        "/_local/faults", {"rate": 0.5, "statuses": [500, 503], "retry_after": 0.01, "seed": 7}
    )
    made = [sdk.devboxes.create(name=f"r{n}").id for n in range(6)]
    local_server.control("/_local/faults", {"rate": 0.0})
    assert sdk.devboxes.list(limit=50).total_count == len(made)  # retried, never duplicated


def test_dropped_connection_has_no_answer(local_server: Any, sdk_no_retry: Runloop) -> None:
    local_server.control("/_local/faults", {"drop_rate": 1.0})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(
            local_server.url + "/v1/devboxes",
            headers={"Authorization": f"Bearer {local_server.token}"},
        )
    with pytest.raises(APIConnectionError):
        sdk_no_retry.devboxes.list()


def test_snapshot_error_rate_fails_snapshots(local_server: Any, api: httpx.Client) -> None:
    devbox = running_devbox(api)
    local_server.control("/_local/faults", {"snapshot_error_rate": 1.0})
    snap = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk_async").json()
    status = api.get(f"/v1/devboxes/disk_snapshots/{snap['id']}/status").json()
    assert status["status"] == "error" and "injected" in status["error_message"]
    sync = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk")
    assert sync.status_code == 500 and sync.headers["x-should-retry"] == "false"
    refused = api.post("/v1/devboxes", json={"snapshot_id": snap["id"]})
    assert refused.status_code == 400


def test_faults_from_the_constructor_config(start_server: StartServer) -> None:
    server = start_server(fault_rate=1.0, fault_statuses=(502,))
    with client_for(server) as client:
        assert client.get("/v1/devboxes").status_code == 502
        assert client.get("/_local/info").status_code == 200


def test_info_and_reset(local_server: Any, api: httpx.Client) -> None:
    running_devbox(api)
    info = local_server.control("/_local/info")
    assert info["sandbox_mode"] in ("bubblewrap", "subprocess")
    assert info["counts"]["devboxes"] == 1 and info["data_dir"] == str(local_server.data_dir)
    local_server.control("/_local/reset", {})
    assert local_server.control("/_local/info")["counts"]["devboxes"] == 0
    assert api.get("/v1/devboxes").json()["devboxes"] == []


def test_seed_builds_large_stacks_that_list_and_page(local_server: Any, api: httpx.Client) -> None:
    devboxes = [{"name": f"d{n}", "metadata": {"stack": "bench"}} for n in range(1000)]
    seeded = local_server.control("/_local/seed", {"devboxes": devboxes})
    source = seeded["devboxes"][0]
    base_ms = 1_700_000_000_000
    snapshots = [
        {
            "source_devbox_id": source,
            "metadata": {"series": f"s{n % 5}"},
            "name": f"n{n}",
            "create_time_ms": base_ms + n * 3_600_000,
        }
        for n in range(5000)
    ]
    local_server.control("/_local/seed", {"snapshots": snapshots, "objects": [{"name": "o"}]})

    page = api.get("/v1/devboxes/disk_snapshots", params={"limit": 5000}).json()
    assert len(page["snapshots"]) == 5000 and page["has_more"] is False
    times = [s["create_time_ms"] for s in page["snapshots"]]
    assert times == sorted(times, reverse=True) and times[0] == base_ms + 4999 * 3_600_000
    series = api.get(
        "/v1/devboxes/disk_snapshots", params={"metadata[series]": "s3", "limit": 5000}
    ).json()
    assert series["total_count"] == 1000
    boxes = api.get("/v1/devboxes", params={"limit": 400, "status": "running"}).json()
    assert boxes["total_count"] == 1000 and len(boxes["devboxes"]) == 400
    rest = api.get(
        "/v1/devboxes", params={"limit": 5000, "starting_after": boxes["devboxes"][-1]["id"]}
    ).json()
    assert len(rest["devboxes"]) == 600
