"""Helpers for the API client tests: a fake clock/sleep and a client over an httpx.MockTransport.

Faults are injected at the transport (httpx.MockTransport), never by replacing client code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from reconcile.api import RetryEvent, RetryPolicy, RunloopClient

T = TypeVar("T")
KEY = "rl_key_SUPERSECRET_0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the client sleeps or a handler advances it."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    """A RunloopClient whose transport is `handler`, with the requests it saw and its retries."""

    handler: Handler
    time: FakeTime = field(default_factory=FakeTime)
    requests: list[httpx.Request] = field(default_factory=list)
    events: list[RetryEvent] = field(default_factory=list)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, **kwargs: Any) -> RunloopClient:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=4.0))
        return RunloopClient(
            "http://api.test",
            kwargs.pop("api_key", KEY),
            transport=httpx.MockTransport(self._handle),
            on_retry=self.events.append,
            sleep=self.time.sleep,
            clock=self.time.clock,
            **kwargs,
        )


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


def devbox_json(devbox_id: str = "dbx_1", status: str = "running", **extra: Any) -> dict[str, Any]:
    return {"id": devbox_id, "status": status, "create_time_ms": 1, "metadata": {}, **extra}


def execution_json(status: str = "completed", **extra: Any) -> dict[str, Any]:
    return {"devbox_id": "dbx_1", "execution_id": "exn_1", "status": status, **extra}


def respond_in_turn(*responses: httpx.Response | Exception) -> Handler:
    """A handler that gives the answers (or raises the faults) in order, repeating the last."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return httpx.Response(item.status_code, headers=item.headers, content=item.content)

    return handler
