"""Retry behaviour: what is retried, how long the client waits, and what it reports.

Faults come from an httpx.MockTransport; waits go to an injected sleep, so nothing really waits.
"""

from __future__ import annotations

import httpx
import pytest
from api_support import KEY, Harness, devbox_json, respond_in_turn, run

from reconcile.api import RetryPolicy, RunloopClient
from reconcile.api.http import LONG_POLL_CONNECTIONS, MAX_CONNECTIONS
from reconcile.api.pool import SHARD_SIZE
from reconcile.errors import (
    ApiConflictError,
    ApiConnectionError,
    ApiError,
    ApiRateLimitError,
    ApiServerError,
    ApiTimeoutError,
    TerminalApiError,
)

OK = httpx.Response(200, json=devbox_json())


def get_devbox(harness: Harness, **kwargs: object) -> None:
    async def call() -> None:
        async with harness.client(**kwargs) as client:
            await client.get_devbox("dbx_1")

    run(call())


def test_429_waits_as_told_and_reports_the_throttling() -> None:
    harness = Harness(respond_in_turn(httpx.Response(429, headers={"Retry-After": "2"}), OK))
    get_devbox(harness)
    assert harness.time.sleeps == [2.0]
    assert len(harness.requests) == 2
    assert [str(e) for e in harness.events] == ["throttled (429), retrying in 2.0s"]
    event = harness.events[0]
    assert (event.status, event.attempt, event.route) == (429, 1, "/v1/devboxes/{id}")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "3600"}, 60.0),
        (
            {
                "retry-after": "Wed, 25 Nov 2026 10:00:05 GMT",
                "date": "Wed, 25 Nov 2026 10:00:00 GMT",
            },
            5.0,
        ),
    ],
    ids=["ms", "ms-wins", "float-seconds", "capped-at-60", "http-date"],
)
def test_retry_after_forms(headers: dict[str, str], expected: float) -> None:
    harness = Harness(respond_in_turn(httpx.Response(503, headers=headers), OK))
    get_devbox(harness)
    assert harness.time.sleeps == [pytest.approx(expected)]


def test_backoff_grows_exponentially_within_jitter_and_cap() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=4.0, jitter=0.25)
    harness = Harness(
        respond_in_turn(
            httpx.Response(500),
            httpx.Response(500),
            httpx.Response(500),
            httpx.Response(500),
            httpx.Response(500),
            OK,
        )
    )
    get_devbox(harness, retry=policy)
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0]
    assert len(harness.time.sleeps) == len(ceilings)
    for slept, ceiling in zip(harness.time.sleeps, ceilings, strict=True):
        assert 0.75 * ceiling <= slept <= ceiling


def test_backoff_formula_with_fixed_randomness() -> None:
    policy = RetryPolicy(max_attempts=9, base_delay=1.0, max_delay=10.0, jitter=0.25)
    assert [policy.backoff(n, lambda: 0.0) for n in range(1, 6)] == [1, 2, 4, 8, 10]
    assert policy.backoff(3, lambda: 1.0) == 3.0


def test_every_retry_of_one_call_carries_the_same_request_id() -> None:
    harness = Harness(respond_in_turn(httpx.Response(503), httpx.ConnectError("refused"), OK))
    get_devbox(harness)
    ids = {r.headers["x-request-id"] for r in harness.requests}
    assert len(harness.requests) == 3 and len(ids) == 1


def test_each_logical_call_gets_a_fresh_request_id() -> None:
    harness = Harness(respond_in_turn(OK))

    async def calls() -> None:
        async with harness.client() as client:
            await client.get_devbox("dbx_1")
            await client.get_devbox("dbx_1")

    run(calls())
    assert (
        harness.requests[0].headers["x-request-id"] != harness.requests[1].headers["x-request-id"]
    )


def test_caller_request_id_is_used_on_every_attempt() -> None:
    harness = Harness(respond_in_turn(httpx.Response(502), httpx.Response(200, json=devbox_json())))

    async def call() -> None:
        async with harness.client() as client:
            await client.create_devbox({"name": "x"}, request_id="req-fixed-1")

    run(call())
    assert [r.headers["x-request-id"] for r in harness.requests] == ["req-fixed-1"] * 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422], ids=str)
def test_client_errors_are_not_retried(status: int) -> None:
    harness = Harness(respond_in_turn(httpx.Response(status), OK))
    with pytest.raises(TerminalApiError):
        get_devbox(harness)
    assert len(harness.requests) == 1 and harness.time.sleeps == []


@pytest.mark.parametrize(
    "fault",
    [
        httpx.Response(408),
        httpx.Response(429),
        httpx.Response(500),
        httpx.Response(504),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("rst"),
    ],
    ids=["408", "429", "500", "504", "connect", "read-timeout", "protocol"],
)
def test_transient_failures_are_retried(fault: httpx.Response | Exception) -> None:
    harness = Harness(respond_in_turn(fault, OK))
    get_devbox(harness)
    assert len(harness.requests) == 2 and len(harness.time.sleeps) == 1


def test_should_retry_false_stops_at_once() -> None:
    answer = httpx.Response(503, headers={"x-should-retry": "false"})
    harness = Harness(respond_in_turn(answer, OK))
    with pytest.raises(ApiServerError):
        get_devbox(harness)
    assert len(harness.requests) == 1


def test_should_retry_true_retries_a_conflict() -> None:
    answer = httpx.Response(409, headers={"x-should-retry": "true"})
    harness = Harness(respond_in_turn(answer, OK))
    get_devbox(harness)
    assert len(harness.requests) == 2


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (httpx.Response(503, json={"message": "overloaded"}), ApiServerError),
        (httpx.Response(429), ApiRateLimitError),
        (httpx.Response(408), ApiTimeoutError),
        (httpx.ConnectError("refused"), ApiConnectionError),
    ],
    ids=["503", "429", "408", "connect"],
)
def test_gives_up_after_max_attempts_with_the_right_class(
    fault: httpx.Response | Exception, expected: type[ApiError]
) -> None:
    harness = Harness(respond_in_turn(fault))
    with pytest.raises(expected) as caught:
        get_devbox(harness, retry=RetryPolicy(max_attempts=3, base_delay=0.1))
    assert len(harness.requests) == 3 and len(harness.time.sleeps) == 2
    assert "gave up after 3 attempts" in str(caught.value)
    assert [e.attempt for e in harness.events] == [1, 2]


def test_stats_count_every_attempt_by_route_template() -> None:
    harness = Harness(respond_in_turn(httpx.Response(429, headers={"retry-after": "1"}), OK))

    async def calls() -> None:
        async with harness.client() as client:
            await client.get_devbox("dbx_1")
            await client.shutdown_devbox("dbx_2", force=True)
            assert client.stats.total == 3
            assert client.stats.by_route == {
                "GET /v1/devboxes/{id}": 2,
                "POST /v1/devboxes/{id}/shutdown": 1,
            }
            client.stats.reset()
            assert (client.stats.total, client.stats.by_route) == (0, {})

    run(calls())
    assert harness.requests[-1].url.path == "/v1/devboxes/dbx_2/shutdown"
    assert harness.requests[-1].url.params["force"] == "true"


def test_upload_is_a_put_without_authorization_and_is_retried() -> None:
    harness = Harness(respond_in_turn(httpx.Response(503), httpx.Response(200)))
    url = "http://blobs.test/upload/obj_1?signature=abc"

    async def call() -> None:
        async with harness.client() as client:
            await client.upload_object_bytes(url, b"payload", {"x-amz-meta": "m"})
            assert client.stats.by_route == {"PUT {upload_url}": 2}

    run(call())
    for request in harness.requests:
        assert request.method == "PUT" and str(request.url) == url
        assert "authorization" not in request.headers
        assert request.headers["x-amz-meta"] == "m"
        assert request.content == b"payload"


def test_api_calls_carry_the_bearer_key() -> None:
    harness = Harness(respond_in_turn(OK))
    get_devbox(harness)
    assert harness.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_no_key_sends_no_authorization() -> None:
    harness = Harness(respond_in_turn(OK))
    get_devbox(harness, api_key=None)
    assert "authorization" not in harness.requests[0].headers


def test_conflict_is_terminal_not_retried_by_default() -> None:
    harness = Harness(respond_in_turn(httpx.Response(409, json={"message": "snapshot running"})))
    with pytest.raises(ApiConflictError, match="snapshot running"):
        get_devbox(harness)


def test_connection_pool_follows_the_limit_cap() -> None:
    client = RunloopClient("http://api.test", None, max_connections=500)
    shards = client._http.shards
    pool = shards.clients[0]._transport._pool  # type: ignore[attr-defined]
    assert client.limit.settings.maximum == MAX_CONNECTIONS
    assert pool._max_connections == SHARD_SIZE
    assert shards.most * SHARD_SIZE >= MAX_CONNECTIONS + LONG_POLL_CONNECTIONS
    run(client.aclose())


def test_a_create_can_turn_retries_off_for_itself() -> None:
    harness = Harness(respond_in_turn(httpx.Response(503), httpx.Response(200, json=devbox_json())))

    async def calls() -> None:
        async with harness.client() as client:
            with pytest.raises(ApiServerError):
                await client.create_devbox({}, retry=RetryPolicy(max_attempts=1))
            await client.get_devbox("dbx_1")  # the client's own policy is untouched

    run(calls())
    assert len(harness.requests) == 2 and harness.time.sleeps == []
