"""Progress events of an apply run and its result, as plain values; nothing here prints.

The executor emits events to a sink (a callable); `reconcile.progress` renders them as a live
view, plain lines or JSON lines. `to_json()` gives the wire shape of `--json` output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

ActionState = Literal["started", "waiting", "done", "failed", "skipped"]
Outcome = Literal["converged", "partial", "failed"]


@dataclass(frozen=True)
class ActionEvent:
    """An action changed state; `message` is a sentence ("devbox.builder has been created")."""

    id: str
    address: str
    kind: str
    state: ActionState
    message: str
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "action",
            "id": self.id,
            "address": self.address,
            "kind": self.kind,
            "state": self.state,
            "message": self.message,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(frozen=True)
class ThrottledEvent:
    """A call failed in a way worth retrying (429, 5xx, dropped connection) and will be retried.

    Its JSON `event` is "throttled" for a 429 and "retry" for anything else."""

    message: str
    status: int | None
    delay_s: float
    method: str
    path: str
    action_id: str | None = None
    address: str | None = None

    @property
    def throttled(self) -> bool:
        return self.status == 429

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "throttled" if self.throttled else "retry",
            "id": self.action_id,
            "address": self.address,
            "status": self.status,
            "method": self.method,
            "path": self.path,
            "delay_s": round(self.delay_s, 3),
            "message": self.message,
        }


@dataclass(frozen=True)
class LimitEvent:
    """The API pushed back (429/503) and the run's request limit was cut; the line progress shows:
    "throttled: 429, waiting 2 s, concurrency 24 → 12"."""

    status: int
    wait_s: float
    before: int
    after: int

    @property
    def message(self) -> str:
        wait = f"waiting {self.wait_s:.2g} s, " if self.wait_s > 0 else ""
        return f"throttled: {self.status}, {wait}concurrency {self.before} → {self.after}"

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "limit",
            "status": self.status,
            "wait_s": round(self.wait_s, 3),
            "concurrency_before": self.before,
            "concurrency_after": self.after,
            "message": self.message,
        }


@dataclass(frozen=True)
class NoticeEvent:
    """A line about the run as a whole (e.g. "interrupted: finishing 3 operations")."""

    message: str

    def to_json(self) -> dict[str, Any]:
        return {"event": "notice", "message": self.message}


@dataclass(frozen=True)
class ApplyResult:
    """What an apply run did: ids done, (id, reason) failed and skipped, and the outcome.

    `left_behind`: (address and id, why) of what is still there though the plan deleted it,
    because the API refuses to (snapshots that ended in error); that is not a failure."""

    done: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    left_behind: tuple[tuple[str, str], ...] = ()
    outcome: Outcome = "converged"
    requests: int = 0
    elapsed_s: float = 0.0
    throttled: int = 0  # 429 answers absorbed (retried within the run's limit)
    peak_concurrency: int = 0  # the most API requests that were in flight at once
    results: dict[str, str] = field(default_factory=dict, compare=False)
    errors: dict[str, BaseException] = field(default_factory=dict, compare=False, repr=False)

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome == "converged" else 1


def outcome_of(done: int, failed: int, skipped: int) -> Outcome:
    """converged: nothing failed or skipped; failed: nothing done; partial otherwise."""
    if not failed and not skipped:
        return "converged"
    return "failed" if done == 0 else "partial"


@dataclass(frozen=True)
class SummaryEvent:
    """The last event of a run."""

    result: ApplyResult

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "event": "summary",
            "result": r.outcome,
            "done": len(r.done),
            "failed": len(r.failed),
            "skipped": len(r.skipped),
            "requests": r.requests,
            "elapsed_s": round(r.elapsed_s, 3),
            "throttled": r.throttled,
            "peak_concurrency": r.peak_concurrency,
            "failures": [{"id": i, "reason": why} for i, why in r.failed],
            "skips": [{"id": i, "reason": why} for i, why in r.skipped],
            "left_behind": [{"id": i, "reason": why} for i, why in r.left_behind],
        }


Event = ActionEvent | ThrottledEvent | LimitEvent | NoticeEvent | SummaryEvent
EventSink = Callable[[Event], None]


def discard(_event: Event) -> None:
    """A sink that drops every event."""
