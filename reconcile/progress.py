"""Shows apply/destroy progress events: a live view on a terminal, plain lines otherwise, or JSON
lines with --json. It renders what the executor emits and decides nothing.

Live view: finished actions scroll above a live area that holds one line per action in
flight ("devbox.builder  waiting: snapshot snp_… in_progress  12s"), a line of counts, and
a throttling line while the API answers 429.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Protocol

from reconcile.apply.events import (
    ActionEvent,
    ApplyResult,
    Event,
    LimitEvent,
    NoticeEvent,
    SummaryEvent,
    ThrottledEvent,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

LIVE_ROWS = 20
RESULT_WORDS = {"converged": "Apply complete", "partial": "Apply partial", "failed": "Apply failed"}


class Reporter(Protocol):
    """An event sink that can be closed (stopping a live view)."""

    def __call__(self, event: Event) -> None: ...

    def close(self) -> None: ...


def _seconds(value: float) -> str:
    if value < 10:
        return f"{value:.1f}s"
    if value < 60:
        return f"{value:.0f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s"


def summary_lines(result: ApplyResult, verb: str = "Apply") -> list[str]:
    """The closing lines: outcome and counts, then one line per failure and skip."""
    head = RESULT_WORDS[result.outcome].replace("Apply", verb)
    counts = f"{len(result.done)} done, {len(result.failed)} failed, {len(result.skipped)} skipped"
    lines = [f"{head}: {counts} ({result.requests} requests, {result.elapsed_s:.1f}s)."]
    if result.throttled:
        lines.append(
            f"  throttled: {result.throttled} × 429 absorbed; "
            f"at most {result.peak_concurrency} requests were in flight."
        )
    lines += [f"  failed:  {action_id}: {reason}" for action_id, reason in result.failed]
    lines += [f"  skipped: {action_id}: {reason}" for action_id, reason in result.skipped]
    if result.left_behind:
        text = f"{len(result.left_behind)} snapshot(s) left in place: they ended in error and "
        text += "the API refuses to delete them, which is not a failure"
        done = "; everything else is gone" if verb == "Destroy" else "; everything else is done"
        lines.append(text + (done if result.outcome == "converged" else "") + ".")
        lines += [f"  left:    {what}: {reason}" for what, reason in result.left_behind]
    return lines


def plain_line(event: Event, verb: str = "Apply") -> str:
    """One line for one event (the summary gives several, joined)."""
    if isinstance(event, ActionEvent):
        if event.state == "done":
            return f"{event.message} [{_seconds(event.elapsed_s)}]"
        if event.state == "failed":
            return f"error: {event.message}"
        if event.state == "waiting":
            return f"{event.address}: waiting: {event.message} [{_seconds(event.elapsed_s)}]"
        return event.message
    if isinstance(event, ThrottledEvent):
        word = "throttled" if event.throttled else "retrying"
        who = f"{event.address}: " if event.address else ""
        return f"{who}{word}: {event.method} {event.path}: {event.message}"
    if isinstance(event, NoticeEvent | LimitEvent):
        return event.message
    return "\n".join(summary_lines(event.result, verb))


class JsonReporter:
    """One JSON object per line, flushed at once (a pipe sees each event as it happens)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(json.dumps(event.to_json()) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class PlainReporter:
    """One line per event, for logs and pipes; `waiting` lines only when their text changes."""

    def __init__(self, stream: IO[str], verb: str = "Apply") -> None:
        self.stream, self.verb = stream, verb
        self.last_wait: dict[str, str] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, ActionEvent) and event.state == "waiting":
            if self.last_wait.get(event.id) == event.message:
                return
            self.last_wait[event.id] = event.message
        self.stream.write(plain_line(event, self.verb) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class _Row:
    def __init__(self, event: ActionEvent, now: float) -> None:
        self.address, self.text, self.since = event.address, event.message, now - event.elapsed_s

    def update(self, event: ActionEvent) -> None:
        self.text = f"waiting: {event.message}" if event.state == "waiting" else event.message


class LiveReporter:
    """A rich live view: finished lines scroll, in-flight actions tick with their elapsed time."""

    def __init__(
        self, stream: IO[str], verb: str = "Apply", clock: Callable[[], float] = time.monotonic
    ) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=stream, highlight=False)
        self.verb, self.clock = verb, clock
        self.rows: dict[str, _Row] = {}
        self.counts = {"done": 0, "failed": 0, "skipped": 0}
        self.throttle: tuple[float, str] | None = None
        self.throttled_total = 0
        self.lock = threading.Lock()
        self.live = Live(
            console=self.console, refresh_per_second=4, transient=True, get_renderable=self._render
        )
        self.live.start()

    def __call__(self, event: Event) -> None:
        # State changes under the lock; rich is called outside it (its refresh thread calls
        # _render, which takes the lock too).
        with self.lock:
            printed = self._take(event)
        if isinstance(event, SummaryEvent):
            self.live.stop()
        if printed is not None:
            from rich.text import Text

            self.live.refresh()  # so the finished action leaves the live area as it prints
            # The style goes on the Text: a print(style=) would also colour the live area.
            self.console.print(Text(printed[0], style=printed[1]))

    def _take(self, event: Event) -> tuple[str, str] | None:
        if isinstance(event, ActionEvent):
            if event.state in ("started", "waiting"):
                row = self.rows.setdefault(event.id, _Row(event, self.clock()))
                row.update(event)
                return None
            self.rows.pop(event.id, None)
            self.counts[event.state] += 1
            style = {"done": "green", "failed": "red", "skipped": "yellow"}[event.state]
            return plain_line(event), style
        if isinstance(event, ThrottledEvent):
            if event.throttled:
                self.throttled_total += 1
                self.throttle = (self.clock(), f"{event.method} {event.path}: {event.message}")
            return None
        if isinstance(event, NoticeEvent):
            return event.message, "bold"
        if isinstance(event, LimitEvent):
            return event.message, "yellow"
        return "\n".join(summary_lines(event.result, self.verb)), ""

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        with self.lock:
            now = self.clock()
            rows = list(self.rows.values())
            counts = dict(self.counts)
            throttle = self.throttle if self.throttle and now - self.throttle[0] < 10 else None
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, style="cyan", max_width=32)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True, width=7)
        for row in rows[:LIVE_ROWS]:
            grid.add_row(row.address, row.text, _seconds(now - row.since))
        if len(rows) > LIVE_ROWS:
            grid.add_row("…", f"{len(rows) - LIVE_ROWS} more in flight", "")
        status = (
            f"{len(rows)} in flight, {counts['done']} done, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
        )
        parts: list[RenderableType] = [grid, Text(status, style="bold")]
        if throttle is not None:
            text = f"throttled ({self.throttled_total}× 429): {throttle[1]}"
            parts.append(Text(text, style="yellow", no_wrap=True, overflow="ellipsis"))
        return Group(*parts)

    def close(self) -> None:
        self.live.stop()


def make_reporter(stream: IO[str], *, json_out: bool, verb: str = "Apply") -> Reporter:
    """JSON lines with --json; a live view on a terminal; plain lines otherwise."""
    if json_out:
        return JsonReporter(stream)
    if stream.isatty():
        return LiveReporter(stream, verb)
    return PlainReporter(stream, verb)
