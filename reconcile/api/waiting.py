"""Waits on the API: status long-polls (devboxes, executions) and polling (snapshots, blueprints).

A long-poll asks the server to hold the request until a status is reached; a 408 (or a client
read timeout) only means "not yet", so the next request goes out at once — the server's hold
is the wait. Connection failures back off before the next round. Every wait has an overall
deadline, after which ApiTimeoutError is raised. It decides nothing about what a status means
to rlstate (callers check `.status`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

from reconcile.api.http import Call, HttpCore
from reconcile.api.models import Blueprint, Devbox, Execution, SnapshotStatus
from reconcile.errors import ApiConnectionError, ApiTimeoutError

DEVBOX_HOLD_SECONDS = 30.0
EXECUTION_HOLD_SECONDS = 25.0
READ_MARGIN_SECONDS = 5.0
DEVBOX_END_STATES = frozenset({"failure", "shutdown"})
EXECUTION_END_STATES = frozenset({"completed"})
SNAPSHOT_END_STATES = frozenset({"complete", "error", "deleted"})
BLUEPRINT_END_STATES = frozenset({"build_complete", "failed"})
POLL_FIRST_DELAY = 0.1
POLL_MAX_DELAY = 2.0
EARLY_ANSWER_MAX_DELAY = 1.0

ViewT = TypeVar("ViewT", Devbox, Execution)
PolledT = TypeVar("PolledT", SnapshotStatus, Blueprint)


@dataclass(frozen=True)
class LongPoll(Generic[ViewT]):
    """One wait_for_status endpoint: what to post and when to stop."""

    what: str
    route: str
    path_args: Mapping[str, str]
    statuses: Sequence[str]
    hold: float
    model: type[ViewT]
    end_states: frozenset[str]

    def call(self, hold: float) -> Call:
        seconds = max(1, int(hold))
        return Call(
            "POST",
            self.route,
            self.path_args,
            body={"statuses": list(self.statuses), "timeout_seconds": seconds},
            timeout=httpx.Timeout(seconds + READ_MARGIN_SECONDS, connect=5.0, pool=None),
            long_poll=True,
        )


def devbox_poll(devbox_id: str, statuses: Sequence[str]) -> LongPoll[Devbox]:
    return LongPoll(
        what=f"devbox {devbox_id}",
        route="/v1/devboxes/{id}/wait_for_status",
        path_args={"id": devbox_id},
        statuses=tuple(statuses),
        hold=DEVBOX_HOLD_SECONDS,
        model=Devbox,
        end_states=DEVBOX_END_STATES,
    )


def execution_poll(
    devbox_id: str, execution_id: str, statuses: Sequence[str]
) -> LongPoll[Execution]:
    return LongPoll(
        what=f"execution {execution_id} on devbox {devbox_id}",
        route="/v1/devboxes/{id}/executions/{execution_id}/wait_for_status",
        path_args={"id": devbox_id, "execution_id": execution_id},
        statuses=tuple(statuses),
        hold=EXECUTION_HOLD_SECONDS,
        model=Execution,
        end_states=EXECUTION_END_STATES,
    )


async def long_poll(http: HttpCore, poll: LongPoll[ViewT], *, timeout: float) -> ViewT:
    """The view once its status is one of `poll.statuses` or an end state it cannot leave."""
    deadline = http.clock() + timeout
    last_seen = "no answer yet"
    broken = early = 0
    while (remaining := deadline - http.clock()) > 0:
        call = poll.call(min(remaining, poll.hold))
        try:
            view = await http.send_model(call, poll.model)
        except ApiTimeoutError:
            broken = 0
            continue
        except ApiConnectionError:
            broken += 1
            delay = min(http.retry.backoff(broken), remaining)
            await http.pause(call, broken, delay, "connection failed", None, "")
            continue
        broken = 0
        last_seen = f"last seen: {view.status}"
        if view.status in poll.statuses or view.status in poll.end_states:
            return view
        # The server answered before the hold ended without a wanted status; do not spin.
        early += 1
        await http.sleep(min(0.1 * early, EARLY_ANSWER_MAX_DELAY, remaining))
    wanted = " or ".join(poll.statuses)
    raise ApiTimeoutError(f"{poll.what} did not reach {wanted} within {timeout:g}s ({last_seen})")


async def poll_until_done(
    http: HttpCore,
    call: Call,
    model: type[PolledT],
    end_states: frozenset[str],
    *,
    what: str,
    timeout: float,
) -> PolledT:
    """GETs `call` until its status is an end state, pausing 0.1 s growing to 2 s between."""
    deadline = http.clock() + timeout
    delay = POLL_FIRST_DELAY
    while True:
        view = await http.send_model(call, model)
        if view.status in end_states:
            return view
        remaining = deadline - http.clock()
        if remaining <= 0:
            raise ApiTimeoutError(
                f"{what} did not finish within {timeout:g}s (last seen: {view.status})"
            )
        await http.sleep(min(delay, remaining))
        delay = min(delay * 1.5, POLL_MAX_DELAY)


async def poll_snapshot(http: HttpCore, snapshot_id: str, *, timeout: float) -> SnapshotStatus:
    """The snapshot's status once complete, error or deleted."""
    call = Call("GET", "/v1/devboxes/disk_snapshots/{id}/status", {"id": snapshot_id})
    return await poll_until_done(
        http,
        call,
        SnapshotStatus,
        SNAPSHOT_END_STATES,
        what=f"snapshot {snapshot_id}",
        timeout=timeout,
    )


async def poll_blueprint(http: HttpCore, blueprint_id: str, *, timeout: float) -> Blueprint:
    """The blueprint once its build is complete or failed."""
    call = Call("GET", "/v1/blueprints/{id}", {"id": blueprint_id})
    return await poll_until_done(
        http,
        call,
        Blueprint,
        BLUEPRINT_END_STATES,
        what=f"blueprint {blueprint_id}",
        timeout=timeout,
    )
