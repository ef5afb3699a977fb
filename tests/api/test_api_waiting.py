"""Long-polls and snapshot polling: no sleeping on 408, backoff on broken connections, deadlines.

The MockTransport plays the server; it advances the fake clock by the hold it was asked for,
as a real server would take that long before answering 408.
"""

from __future__ import annotations

import httpx
import pytest
from api_support import Handler, Harness, body_of, devbox_json, execution_json, respond_in_turn, run

from reconcile.api import Devbox, Execution, SnapshotStatus
from reconcile.errors import ApiNotFoundError, ApiTimeoutError


def holding_server(
    harness_ref: list[Harness], answers: list[httpx.Response | Exception]
) -> Handler:
    """Answers in turn; a 408 first 'holds' for the requested timeout on the fake clock."""

    def handler(request: httpx.Request) -> httpx.Response:
        item = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(item, Exception):
            raise item
        if item.status_code == 408:
            harness_ref[0].time.advance(body_of(request)["timeout_seconds"])
        return httpx.Response(item.status_code, headers=item.headers, content=item.content)

    return handler


def make(answers: list[httpx.Response | Exception]) -> Harness:
    ref: list[Harness] = []
    harness = Harness(holding_server(ref, answers))
    ref.append(harness)
    return harness


def wait_devbox(
    harness: Harness, statuses: tuple[str, ...] = ("running",), timeout: float = 120
) -> Devbox:
    async def call() -> Devbox:
        async with harness.client() as client:
            return await client.wait_for_devbox_status("dbx_1", statuses, timeout=timeout)

    return run(call())


def test_408_is_reposted_at_once_without_sleeping() -> None:
    harness = make([httpx.Response(408)] * 3 + [httpx.Response(200, json=devbox_json())])
    devbox = wait_devbox(harness)
    assert devbox.status == "running"
    assert len(harness.requests) == 4
    assert harness.time.sleeps == [] and harness.events == []
    first = harness.requests[0]
    assert first.url.path == "/v1/devboxes/dbx_1/wait_for_status"
    assert body_of(first) == {"statuses": ["running"], "timeout_seconds": 30}
    assert first.extensions["timeout"]["read"] == 35.0


def test_hold_shrinks_to_the_time_left_and_deadline_raises() -> None:
    harness = make([httpx.Response(408)])
    with pytest.raises(ApiTimeoutError, match=r"devbox dbx_1 did not reach running within 70s"):
        wait_devbox(harness, timeout=70)
    assert [body_of(r)["timeout_seconds"] for r in harness.requests] == [30, 30, 10]
    assert harness.time.sleeps == []


def test_connection_errors_back_off_then_continue() -> None:
    harness = make(
        [
            httpx.ConnectError("down"),
            httpx.ConnectError("down"),
            httpx.Response(200, json=devbox_json()),
        ]
    )
    wait_devbox(harness)
    assert len(harness.requests) == 3
    assert len(harness.time.sleeps) == 2
    assert 0.375 <= harness.time.sleeps[0] <= 0.5 and 0.75 <= harness.time.sleeps[1] <= 1.0
    assert [(e.reason, e.attempt) for e in harness.events] == [
        ("connection failed", 1),
        ("connection failed", 2),
    ]
    assert [e.delay for e in harness.events] == harness.time.sleeps


def test_client_read_timeout_counts_as_not_yet() -> None:
    harness = make([httpx.ReadTimeout("held too long"), httpx.Response(200, json=devbox_json())])
    wait_devbox(harness)
    assert len(harness.requests) == 2 and harness.time.sleeps == []


def test_end_state_returns_even_when_not_asked_for() -> None:
    answer = httpx.Response(200, json=devbox_json(status="failure", failure_reason="out_of_memory"))
    devbox = wait_devbox(make([answer]))
    assert (devbox.status, devbox.failure_reason) == ("failure", "out_of_memory")


def test_early_answer_with_other_status_pauses_briefly_instead_of_spinning() -> None:
    harness = make(
        [
            httpx.Response(200, json=devbox_json(status="initializing")),
            httpx.Response(200, json=devbox_json(status="running")),
        ]
    )
    wait_devbox(harness)
    assert harness.time.sleeps == [pytest.approx(0.1)]


def test_terminal_errors_end_the_wait() -> None:
    harness = make([httpx.Response(404, json={"message": "no such devbox"})])
    with pytest.raises(ApiNotFoundError, match="no such devbox"):
        wait_devbox(harness)
    assert len(harness.requests) == 1


def test_throttled_long_poll_is_retried_with_backoff() -> None:
    harness = make(
        [httpx.Response(429, headers={"retry-after": "3"}), httpx.Response(200, json=devbox_json())]
    )
    wait_devbox(harness)
    assert harness.time.sleeps == [3.0]


def test_execution_wait_holds_at_most_25s() -> None:
    harness = make(
        [
            httpx.Response(408),
            httpx.Response(200, json=execution_json(stdout="hi\n", exit_status=0)),
        ]
    )

    async def call() -> Execution:
        async with harness.client() as client:
            return await client.wait_for_execution("dbx_1", "exn_1", timeout=600)

    execution = run(call())
    assert (execution.status, execution.stdout, execution.exit_status) == ("completed", "hi\n", 0)
    request = harness.requests[0]
    assert request.url.path == "/v1/devboxes/dbx_1/executions/exn_1/wait_for_status"
    assert body_of(request) == {"statuses": ["completed"], "timeout_seconds": 25}
    assert request.extensions["timeout"]["read"] == 30.0


def test_each_long_poll_round_gets_its_own_request_id() -> None:
    harness = make([httpx.Response(408), httpx.Response(200, json=devbox_json())])
    wait_devbox(harness)
    assert (
        harness.requests[0].headers["x-request-id"] != harness.requests[1].headers["x-request-id"]
    )


def snapshot_status(status: str) -> httpx.Response:
    snap = {"id": "snp_1", "create_time_ms": 5, "metadata": {"a": "b"}}
    return httpx.Response(200, json={"status": status, "snapshot": snap})


def wait_snapshot(harness: Harness, timeout: float = 60) -> SnapshotStatus:
    async def call() -> SnapshotStatus:
        async with harness.client() as client:
            return await client.wait_for_snapshot("snp_1", timeout=timeout)

    return run(call())


@pytest.mark.parametrize("end", ["complete", "error", "deleted"])
def test_snapshot_wait_backs_off_from_100ms_to_2s(end: str) -> None:
    harness = Harness(respond_in_turn(*[snapshot_status("in_progress")] * 12, snapshot_status(end)))
    result = wait_snapshot(harness)
    assert result.status == end and result.snapshot is not None
    assert harness.time.sleeps[0] == pytest.approx(0.1)
    assert all(b >= a for a, b in zip(harness.time.sleeps, harness.time.sleeps[1:], strict=False))
    assert max(harness.time.sleeps) == pytest.approx(2.0)
    assert len(harness.requests) == 13
    assert harness.requests[0].url.path == "/v1/devboxes/disk_snapshots/snp_1/status"


def test_snapshot_wait_deadline() -> None:
    harness = Harness(respond_in_turn(snapshot_status("in_progress")))
    with pytest.raises(ApiTimeoutError, match="snapshot snp_1 did not finish within 5s"):
        wait_snapshot(harness, timeout=5)
    assert sum(harness.time.sleeps) == pytest.approx(5.0)


def test_snapshot_status_error_message_is_read() -> None:
    answer = httpx.Response(200, json={"status": "error", "error_message": "disk full"})
    result = wait_snapshot(Harness(respond_in_turn(answer)))
    assert (result.status, result.error_message, result.snapshot) == ("error", "disk full", None)
