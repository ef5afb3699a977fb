"""What one operation gets to work with (resolved params, the client, a way to report) and returns.

Shared by the operation modules; holds no logic beyond small helpers every operation uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from reconcile.api import RetryEvent, RunloopClient
from reconcile.api.limiter import Cut
from reconcile.apply.events import EventSink, LimitEvent, ThrottledEvent, discard
from reconcile.apply.exactly_once import CreatePolicy, create_exactly_once
from reconcile.errors import ApiRateLimitError, RetryableApiError
from reconcile.plan.model import Action
from reconcile.plan.params import ActionParams, P, params_as

T = TypeVar("T")

# The action whose task is running; lets API retry callbacks say which action was throttled.
current_action: ContextVar[Action | None] = ContextVar("current_action", default=None)


@dataclass(frozen=True)
class Timeouts:
    """Deadlines (seconds) of the waits an operation may do."""

    devbox_ready: float = 900.0
    devbox_transition: float = 600.0
    command: float = 3600.0
    snapshot: float = 3600.0
    shutdown_conflict: float = 300.0
    blueprint_build: float = 3600.0


@dataclass(frozen=True)
class Done:
    """A finished operation: its sentence and the ids it recorded (`devbox:ADDR` → id);
    `left_behind` says why what it was to delete is still there (the API refused, for good)."""

    message: str
    results: dict[str, str] = field(default_factory=dict)
    left_behind: str | None = None


@dataclass
class OpContext:
    """One action being run: its resolved params and what it may call."""

    action: Action
    params: ActionParams
    client: RunloopClient
    report: Callable[[str], None]
    on_throttled: Callable[[ApiRateLimitError, float], None]
    on_ambiguous: Callable[[RetryableApiError], None]
    timeouts: Timeouts = field(default_factory=Timeouts)
    create_policy: CreatePolicy = field(default_factory=CreatePolicy)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic

    @property
    def address(self) -> str:
        return self.action.address

    def params_as(self, cls: type[P]) -> P:
        """The resolved params as `cls`; PlanFileError when the action carries something else."""
        return params_as(self.params, cls, self.action.id)

    @property
    def resource_id(self) -> str:
        if not self.action.resource_id:
            raise ValueError(f"action {self.action.id!r} has no resource_id")
        return self.action.resource_id

    async def create_once(
        self, create: Callable[[], Awaitable[T]], find: Callable[[], Awaitable[T | None]]
    ) -> T:
        """`create_exactly_once` with this run's policy, clock and reporting."""
        return await create_exactly_once(
            create,
            find,
            policy=self.create_policy,
            sleep=self.sleep,
            on_throttled=self.on_throttled,
            on_ambiguous=self.on_ambiguous,
        )


def name_of(address: str) -> str:
    """The logical name in an address: "object.toolchain" → "toolchain"."""
    return address.split(".", 1)[1] if "." in address else address


class RetryRelay:
    """The clients' on_retry (and on_cut) callback: turns each retried call into an event of the
    action whose task made it (or of no action, e.g. during discovery)."""

    def __init__(self, sink: EventSink = discard) -> None:
        self.sink = sink

    def cut(self, cut: Cut) -> None:
        """The run's request limit was cut: "throttled: 429, waiting 2 s, concurrency 24 → 12"."""
        self.sink(LimitEvent(cut.status, cut.pause, cut.before, cut.after))

    def __call__(self, event: RetryEvent) -> None:
        action = current_action.get()
        self.sink(
            ThrottledEvent(
                message=str(event),
                status=event.status,
                delay_s=event.delay,
                method=event.method,
                path=event.path,
                action_id=action.id if action else None,
                address=action.address if action else None,
            )
        )
