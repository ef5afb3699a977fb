"""Builders of hand-made plans and a runner for executor tests against the real local backend."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from reconcile.api import RunloopClient
from reconcile.api.retry import RetryPolicy
from reconcile.apply.context import RetryRelay
from reconcile.apply.events import ActionEvent, ApplyResult, Event
from reconcile.apply.exactly_once import CreatePolicy
from reconcile.apply.executor import ExecutorOptions, RunControl, apply_plan
from reconcile.plan.model import Action, Plan
from reconcile.plan.params import ObjectCreate, SnapshotTake, params_from_json

STACK = "exec-test"
T = TypeVar("T")
FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05)
FAST_CREATES = CreatePolicy(max_attempts=8, backoff=FAST_RETRY)


def ownership(kind: str, name: str, **extra: str) -> dict[str, str]:
    return {"rlstate.stack": STACK, "rlstate.kind": kind, "rlstate.name": name, **extra}


def devbox(
    name: str,
    *,
    setup: Iterable[str] = (),
    deps: Iterable[str] = (),
    state: str = "running",
    kind: str = "create",
    body: dict[str, Any] | None = None,
    **params: Any,
) -> Action:
    """A devbox create (or restore/replace, given old_id and final_snapshot as the plan file
    holds them) action at address devbox.NAME."""
    meta = ownership("devbox", name, **{"rlstate.ready": "false"})
    full_body = {"name": name, "metadata": meta, **(body or {})}
    return Action(
        id=f"{kind} devbox.{name}",
        kind=kind,  # type: ignore[arg-type]
        resource="devbox",
        address=f"devbox.{name}",
        depends_on=tuple(deps),
        params=params_from_json(
            "devbox",
            kind,
            {
                "body": full_body,
                "setup": list(setup),
                "state": state,
                "ready_metadata": {**meta, "rlstate.ready": "true"},
                **params,
            },
        ),
    )


def snapshot(series: str, devbox_ref: str, *, deps: Iterable[str] = ()) -> Action:
    return Action(
        id=f"snapshot snapshot.{series}",
        kind="snapshot",
        resource="snapshot",
        address=f"snapshot.{series}",
        depends_on=tuple(deps),
        params=SnapshotTake(
            series=series,
            devbox=devbox_ref,
            name=f"{series}-1",
            metadata=ownership("snapshot", series, **{"rlstate.series": series}),
        ),
    )


def prune(series: str, snapshot_id: str, *, deps: Iterable[str] = ()) -> Action:
    return Action(
        id=f"prune {snapshot_id}",
        kind="prune",
        resource="snapshot",
        address=f"snapshot.{series}",
        resource_id=snapshot_id,
        depends_on=tuple(deps),
    )


def obj(name: str, path: str, sha256: str, size: int, *, deps: Iterable[str] = ()) -> Action:
    return Action(
        id=f"create object.{name}",
        kind="create",
        resource="object",
        address=f"object.{name}",
        depends_on=tuple(deps),
        params=ObjectCreate(
            name=name,
            content_type="text",
            metadata=ownership("object", name, **{"rlstate.sha256": sha256}),
            ttl_ms=None,
            file=path,
            sha256=sha256,
            size=size,
        ),
    )


def simple(kind: str, resource: str, address: str, resource_id: str, **params: Any) -> Action:
    return Action(
        id=f"{kind} {address}",
        kind=kind,  # type: ignore[arg-type]
        resource=resource,  # type: ignore[arg-type]
        address=address,
        resource_id=resource_id,
        params=params_from_json(resource, kind, params),
    )


def plan_of(*actions: Action, refusals: Iterable[Any] = ()) -> Plan:
    return Plan(
        stack=STACK,
        manifest_path="rlstate.yaml",
        manifest_sha256="",
        created_at="2026-01-01T00:00:00Z",
        actions=tuple(actions),
        refusals=tuple(refusals),
    )


@dataclass
class Run:
    """One executor run: its result, every event in order, and requests by route."""

    result: ApplyResult
    events: list[Event]
    by_route: dict[str, int] = field(default_factory=dict)

    def action_events(self, state: str | None = None) -> list[ActionEvent]:
        return [
            e
            for e in self.events
            if isinstance(e, ActionEvent) and (state is None or e.state == state)
        ]

    def order(self, state: str) -> list[str]:
        return [e.id for e in self.action_events(state)]

    def order_messages(self, state: str) -> list[str]:
        return [e.message for e in self.action_events(state)]

    def max_in_flight(self) -> int:
        now = peak = 0
        for event in self.action_events():
            if event.state == "started":
                now += 1
            elif event.state in ("done", "failed"):
                now -= 1
            peak = max(peak, now)
        return peak


def run_plan(
    server: Any,
    plan: Plan,
    *,
    parallelism: int = 10,
    environ: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    control_hook: Callable[[RunControl, Event], None] | None = None,
) -> Run:
    """Runs `plan` against `server` with fast retries; returns what happened."""
    events: list[Event] = []

    async def go() -> Run:
        control = RunControl()
        relay = RetryRelay()

        def sink(event: Event) -> None:
            events.append(event)
            if control_hook is not None:
                control_hook(control, event)

        relay.sink = sink
        client = RunloopClient(
            server.url, server.token, on_retry=relay, retry=FAST_RETRY, transport=transport
        )
        async with client:
            options = ExecutorOptions(
                parallelism=parallelism, environ=environ or {}, create_policy=FAST_CREATES
            )
            result = await apply_plan(plan, client, options=options, emit=sink, control=control)
            return Run(result, events, dict(client.stats.by_route))

    return asyncio.run(go())


def with_client(server: Any, work: Callable[[RunloopClient], Awaitable[T]]) -> T:
    """Runs `work` with a plain client of `server` (for checking what a run left behind)."""

    async def go() -> T:
        async with RunloopClient(server.url, server.token) as client:
            return await work(client)

    return asyncio.run(go())


def stack_devboxes(server: Any) -> list[Any]:
    async def work(client: RunloopClient) -> list[Any]:
        found = await client.list_devboxes()
        return [d for d in found if d.metadata.get("rlstate.stack") == STACK]

    return with_client(server, work)


def shell(server: Any, devbox_id: str, command: str) -> str:
    async def work(client: RunloopClient) -> str:
        run = await client.execute(devbox_id, command)
        if run.status != "completed":
            run = await client.wait_for_execution(devbox_id, run.execution_id, timeout=60)
        return run.stdout

    return with_client(server, work)
