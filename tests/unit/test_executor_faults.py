"""The executor under faults: lost create answers, throttling, errors, failing snapshots."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from executor_support import (
    Run,
    devbox,
    plan_of,
    prune,
    run_plan,
    snapshot,
    stack_devboxes,
)

from reconcile.apply.events import ActionEvent, Event, ThrottledEvent
from reconcile.apply.executor import RunControl
from reconcile.errors import SnapshotFailedError
from tests.helpers import a_fifth_failing


class LoseFirstCreateAnswer(httpx.AsyncBaseTransport):
    """A real transport that delivers the first POST /v1/devboxes to the server, lets it run,
    and then drops the connection before the answer arrives (the ambiguous case)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path == "/v1/devboxes" and not self.lost:
            await response.aread()
            self.lost += 1
            raise httpx.ReadError("connection dropped after the server answered", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _create_faulted_until_looked_up(local_server: Any, fault: str, name: str) -> Run:
    """Runs a plan creating devbox `name` with the server's `fault` always on, until the
    executor looks the create up by its token: then it is off (it hits the create only)."""
    local_server.control("/_local/faults", {fault: 1.0})

    def heal(control: RunControl, event: Event) -> None:
        if isinstance(event, ActionEvent) and "looking it up by token" in event.message:
            local_server.control("/_local/faults", {fault: 0.0})

    return run_plan(local_server, plan_of(devbox(name)), control_hook=heal)


def test_a_create_whose_answer_was_lost_is_found_by_token_not_made_twice(
    local_server: Any,
) -> None:
    transport = LoseFirstCreateAnswer()
    run = run_plan(local_server, plan_of(devbox("once")), transport=transport)

    assert transport.lost == 1
    assert run.result.outcome == "converged", run.result.failed
    (box,) = stack_devboxes(local_server)
    assert run.result.results["devbox:devbox.once"] == box.id
    # Found by its token: the create was sent once, then looked up — not sent again.
    assert run.by_route["POST /v1/devboxes"] == 1
    assert run.by_route["GET /v1/devboxes"] == 1
    assert any("looking it up by token" in m for m in run.order_messages("waiting"))


def test_a_create_dropped_by_the_server_is_looked_up_then_sent_again_once(
    local_server: Any,
) -> None:
    run = _create_faulted_until_looked_up(local_server, "drop_rate", "dropped")

    assert run.result.outcome == "converged", run.result.failed
    boxes = stack_devboxes(local_server)
    assert len(boxes) == 1
    tokens = Counter(b.metadata["rlstate.token"] for b in boxes)
    assert list(tokens.values()) == [1]
    assert run.by_route["POST /v1/devboxes"] == 2


def test_a_create_the_server_carried_out_but_whose_answer_it_lost_is_found_by_token(
    local_server: Any,
) -> None:
    run = _create_faulted_until_looked_up(local_server, "lost_answer_rate", "lost")

    assert run.result.outcome == "converged", run.result.failed
    (box,) = stack_devboxes(local_server)
    assert run.result.results["devbox:devbox.lost"] == box.id
    assert run.by_route["POST /v1/devboxes"] == 1


def test_a_snapshot_ending_in_error_fails_and_its_prunes_are_skipped(local_server: Any) -> None:
    local_server.control("/_local/faults", {"snapshot_error_rate": 1.0})
    plan = plan_of(
        devbox("src"),
        snapshot("golden", "${devbox:devbox.src}", deps=["create devbox.src"]),
        prune("golden", "snp_older1", deps=["snapshot snapshot.golden"]),
        prune("golden", "snp_older2", deps=["snapshot snapshot.golden"]),
    )
    run = run_plan(local_server, plan)

    assert run.result.done == ("create devbox.src",)
    ((failed_id, reason),) = run.result.failed
    assert failed_id == "snapshot snapshot.golden"
    assert isinstance(run.result.errors[failed_id], SnapshotFailedError)
    assert "ended in error" in reason
    assert sorted(i for i, _ in run.result.skipped) == ["prune snp_older1", "prune snp_older2"]
    assert run.result.outcome == "partial"


def test_throttling_is_reported_per_action_and_still_converges(local_server: Any) -> None:
    local_server.control(
        "/_local/faults", {"rate": 0.4, "statuses": [429], "retry_after": 0.01, "seed": 7}
    )
    run = run_plan(local_server, plan_of(*(devbox(f"t{n}") for n in range(6))))

    assert run.result.outcome == "converged", run.result.failed
    throttled = [e for e in run.events if isinstance(e, ThrottledEvent)]
    assert throttled, "a 40% rate of 429s over a dozen calls produced no throttled event"
    assert all(e.status == 429 and e.to_json()["event"] == "throttled" for e in throttled)
    assert {e.address for e in throttled} <= {f"devbox.t{n}" for n in range(6)}
    assert len(stack_devboxes(local_server)) == 6


def test_a_fifth_of_calls_failing_every_way_still_converges_without_duplicates(
    local_server: Any,
) -> None:
    local_server.control("/_local/faults", a_fifth_failing(11, retry_after=0.01))
    plan = plan_of(
        devbox("base", setup=["echo ok > /home/user/ok.txt"]),
        snapshot("golden", "${devbox:devbox.base}", deps=["create devbox.base"]),
        *(
            devbox(
                f"w{n}",
                kind="restore",
                body={"snapshot_id": "${snapshot:golden}"},
                deps=["snapshot snapshot.golden"],
            )
            for n in range(4)
        ),
    )
    run = run_plan(local_server, plan)
    local_server.control("/_local/faults", {"rate": 0.0, "drop_rate": 0.0, "lost_answer_rate": 0.0})

    assert run.result.outcome == "converged", run.result.failed
    names = Counter(b.metadata["rlstate.name"] for b in stack_devboxes(local_server))
    assert names == Counter({"base": 1, "w0": 1, "w1": 1, "w2": 1, "w3": 1})
