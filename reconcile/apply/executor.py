"""Runs a plan: walks its dependency graph with at most N operations in flight.

An action starts once every action it depends on has succeeded; when one fails, everything
that depends on it (transitively) is skipped and reported once, while independent work goes
on. A stop request (first Ctrl-C) starts nothing new and lets in-flight work finish; an
abort (second) cancels in-flight work. It emits events and returns an ApplyResult; it never
prints, and it never decides what to change — that is the plan's.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconcile.api import RunloopClient
from reconcile.apply.context import Done, OpContext, Timeouts, current_action
from reconcile.apply.defaults import DEFAULT_PARALLELISM
from reconcile.apply.events import (
    ActionEvent,
    ActionState,
    ApplyResult,
    EventSink,
    NoticeEvent,
    SummaryEvent,
    ThrottledEvent,
    discard,
    outcome_of,
)
from reconcile.apply.exactly_once import CreatePolicy
from reconcile.apply.operations import operation_for, starting_message
from reconcile.apply.placeholders import resolve, scrub
from reconcile.errors import (
    ApiRateLimitError,
    PlanFileError,
    ProtectedResourceError,
    RetryableApiError,
    RlstateError,
)
from reconcile.plan.model import Action, Plan


@dataclass
class RunControl:
    """How the outside asks a running apply to stop (start nothing new) or abort."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    abort: asyncio.Event = field(default_factory=asyncio.Event)
    abort_reason: str = "aborted by a second interrupt while in flight"

    def interrupt(self) -> str:
        """First call: stop; later calls: abort. Returns which it was."""
        if not self.stop.is_set():
            self.stop.set()
            return "stop"
        self.abort.set()
        return "abort"

    def expire(self, reason: str) -> None:
        """Abort what is in flight for `reason` (e.g. a stop's grace period ran out)."""
        self.stop.set()
        if not self.abort.is_set():
            self.abort_reason = reason
            self.abort.set()


@dataclass(frozen=True)
class ExecutorOptions:
    """Knobs of a run; the defaults are what `rlstate apply` uses. `parallelism` caps actions in
    flight; how many API requests they have in flight is the client's adaptive limit's say."""

    parallelism: int = DEFAULT_PARALLELISM
    timeouts: Timeouts = field(default_factory=Timeouts)
    create_policy: CreatePolicy = field(default_factory=CreatePolicy)
    environ: Mapping[str, str] | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic


def refuse_protected(plan: Plan) -> None:
    """Raises ProtectedResourceError listing every refusal; a plan with any runs not at all."""
    if plan.refusals:
        lines = "; ".join(
            r.message if r.message.startswith(r.address) else f"{r.address}: {r.message}"
            for r in plan.refusals
        )
        raise ProtectedResourceError(
            f"the plan would destroy protected resources, so nothing was changed: {lines}"
        )


def shrink_failures(plan: Plan) -> tuple[tuple[str, str], ...]:
    """The series whose prune the shrink guard held back, as failures of the run ("prune
    snapshot.NAME", why): the rest of the plan runs, and the run exits 1 (as `retain` does)."""
    return tuple((f"prune snapshot.{r.series}", r.message()) for r in plan.shrink_refused)


def _check_ids(plan: Plan) -> None:
    seen: set[str] = set()
    for action in plan.actions:
        if action.id in seen:
            raise PlanFileError(f"the plan has two actions with the id {action.id!r}")
        seen.add(action.id)


def _one_line(error: BaseException) -> str:
    text = str(error) if isinstance(error, RlstateError) else f"{type(error).__name__}: {error}"
    return " ".join((text or type(error).__name__).split())


async def apply_plan(
    plan: Plan,
    client: RunloopClient,
    *,
    options: ExecutorOptions | None = None,
    emit: EventSink = discard,
    control: RunControl | None = None,
    earlier_requests: int = 0,
) -> ApplyResult:
    """Runs every action of `plan` in dependency order; emits events, ends with a summary.

    The summary counts `client`'s requests plus `earlier_requests` (this run's, made before it
    started, e.g. while planning)."""
    refuse_protected(plan)
    _check_ids(plan)
    options = options or ExecutorOptions()
    walk = _Walk(plan, client, options, emit, control or RunControl(), earlier_requests)
    result = await walk.run()
    emit(SummaryEvent(result))
    return result


class _Walk:
    """The state of one run over the graph."""

    def __init__(
        self,
        plan: Plan,
        client: RunloopClient,
        options: ExecutorOptions,
        emit: EventSink,
        control: RunControl,
        earlier_requests: int,
    ) -> None:
        self.plan, self.client, self.options, self.emit, self.control = (
            plan,
            client,
            options,
            emit,
            control,
        )
        self.earlier_requests = earlier_requests
        self.environ = options.environ if options.environ is not None else os.environ
        self.by_id = {a.id: a for a in plan.actions}
        self.dependents: dict[str, list[str]] = {a.id: [] for a in plan.actions}
        self.unmet: dict[str, int] = {}
        self.ready: deque[str] = deque()
        self.running: dict[asyncio.Task[Done], Action] = {}
        self.started_at: dict[str, float] = {}
        self.secrets: dict[str, set[str]] = {}
        self.results: dict[str, str] = {}
        self.done: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.errors: dict[str, BaseException] = {}
        self.skipped: list[tuple[str, str]] = []
        self.left_behind = [(f"{i.address} {i.resource_id}", i.reason) for i in plan.left_behind]
        self.settled: set[str] = set()
        self.t0 = options.clock()

    async def run(self) -> ApplyResult:
        self._link()
        abort_wait: asyncio.Future[Any] = asyncio.ensure_future(self.control.abort.wait())
        try:
            await self._loop(abort_wait)
        finally:
            abort_wait.cancel()
        self._skip_unstarted()
        failed = (*self.failed, *shrink_failures(self.plan))
        return ApplyResult(
            done=tuple(self.done),
            failed=failed,
            skipped=tuple(self.skipped),
            left_behind=tuple(self.left_behind),
            outcome=outcome_of(len(self.done), len(failed), len(self.skipped)),
            requests=self.earlier_requests + self.client.stats.total,
            elapsed_s=self.options.clock() - self.t0,
            throttled=self.client.limit.totals.throttled,
            peak_concurrency=self.client.limit.totals.peak,
            results=dict(self.results),
            errors=dict(self.errors),
        )

    def _link(self) -> None:
        for action in self.plan.actions:
            missing = [d for d in action.depends_on if d not in self.by_id]
            if missing:
                why = f"not run: it depends on {missing[0]!r}, which is not in the plan"
                self._skip(action, why)
                continue
            self.unmet[action.id] = len(set(action.depends_on))
            for dep in set(action.depends_on):
                self.dependents[dep].append(action.id)
        for action in self.plan.actions:
            if self.unmet.get(action.id) == 0 and action.id not in self.settled:
                self.ready.append(action.id)

    async def _loop(self, abort_wait: asyncio.Future[Any]) -> None:
        while True:
            self._start_ready()
            if not self.running:
                return
            waiting: set[asyncio.Future[Any]] = {abort_wait}
            waiting.update(self.running)
            finished, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in [t for t in self.running if t in finished]:
                self._finish(task)
            if abort_wait in finished:
                await self._abort()
                return

    def _start_ready(self) -> None:
        limit = max(1, self.options.parallelism)
        while self.ready and len(self.running) < limit and not self.control.stop.is_set():
            action = self.by_id[self.ready.popleft()]
            if action.id in self.settled:
                continue
            self.started_at[action.id] = self.options.clock()
            self._event(action, "started", starting_message(action))
            task = asyncio.create_task(self._run(action), name=action.id)
            self.running[task] = action

    async def _run(self, action: Action) -> Done:
        current_action.set(action)
        operation = operation_for(action)
        if operation is None:
            raise PlanFileError(f"rlstate cannot {action.kind} a {action.resource}")
        resolution = resolve(action.params, self.results, self.environ)
        self.secrets[action.id] = resolution.secrets
        ctx = OpContext(
            action=action,
            params=resolution.value,
            client=self.client,
            report=lambda message: self._event(action, "waiting", message),
            on_throttled=lambda error, delay: self._throttled(action, error, delay),
            on_ambiguous=lambda error: self._ambiguous(action, error),
            timeouts=self.options.timeouts,
            create_policy=self.options.create_policy,
            sleep=self.options.sleep,
            clock=self.options.clock,
        )
        return await operation(ctx)

    def _finish(self, task: asyncio.Task[Done]) -> None:
        action = self.running.pop(task)
        self.settled.add(action.id)
        error = task.exception() if not task.cancelled() else asyncio.CancelledError("aborted")
        if error is None:
            outcome = task.result()
            self.results.update(outcome.results)
            self.done.append(action.id)
            if outcome.left_behind is not None:
                self.left_behind.append((action.id, outcome.left_behind))
            self._event(action, "done", outcome.message)
            for dependent in self.dependents[action.id]:
                self.unmet[dependent] -= 1
                if self.unmet[dependent] == 0 and dependent not in self.settled:
                    self.ready.append(dependent)
            return
        reason = scrub(_one_line(error), self.secrets.get(action.id, set()))
        if isinstance(error, asyncio.CancelledError):
            reason = self.control.abort_reason
        self.failed.append((action.id, reason))
        self.errors[action.id] = error
        self._event(action, "failed", f"{action.address}: {reason}")
        self._skip_dependents(action.id, f"not run: {action.id!r} failed")

    def _skip_dependents(self, root: str, reason: str) -> None:
        queue = deque(self.dependents[root])
        while queue:
            dependent = self.by_id[queue.popleft()]
            if dependent.id in self.settled:
                continue
            self._skip(dependent, reason)
            queue.extend(self.dependents[dependent.id])

    def _skip(self, action: Action, reason: str) -> None:
        self.settled.add(action.id)
        self.skipped.append((action.id, reason))
        self._event(action, "skipped", f"{action.address}: {reason}")

    def _skip_unstarted(self) -> None:
        stopped = self.control.stop.is_set() or self.control.abort.is_set()
        reason = (
            "not started: the run was interrupted"
            if stopped
            else "not started: its dependencies form a cycle"
        )
        for action in self.plan.actions:
            if action.id not in self.settled:
                self._skip(action, reason)

    async def _abort(self) -> None:
        tasks = list(self.running)
        self.emit(NoticeEvent(f"aborting {len(tasks)} operation(s) in flight"))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            self._finish(task)

    def _event(self, action: Action, state: ActionState, message: str) -> None:
        start = self.started_at.get(action.id)
        elapsed = self.options.clock() - start if start is not None and state != "skipped" else 0.0
        text = scrub(message, self.secrets.get(action.id, set()))
        self.emit(ActionEvent(action.id, action.address, action.kind, state, text, elapsed))

    def _throttled(self, action: Action, error: ApiRateLimitError, delay: float) -> None:
        self.emit(
            ThrottledEvent(
                message=f"throttled (429), retrying in {delay:.1f}s",
                status=error.status,
                delay_s=delay,
                method=error.method,
                path=error.path,
                action_id=action.id,
                address=action.address,
            )
        )

    def _ambiguous(self, action: Action, error: RetryableApiError) -> None:
        why = _one_line(error)
        self._event(action, "waiting", f"create may have happened ({why}); looking it up by token")
