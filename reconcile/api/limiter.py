"""How many API requests one run keeps in flight, learnt as it goes; decisions only (no I/O, no
sleeping, no asyncio: gate.py does the waiting).

The limit starts at `initial` and adapts to what the API answers:

- it grows while latency holds and nothing is throttled: by one per answer until the first sign
  of trouble (TCP's slow start), then by one per round of `limit` answers (additive increase);
  it only grows while the requests in flight use at least half of it;
- latency is judged per route (a 5,000-item list is never compared with a status read): each
  answer's latency over its route's best (a baseline that forgets slowly, as TCP Vegas' base
  RTT does) feeds a smoothed ratio; above `tolerance` requests are queueing somewhere (the
  server, the network, or this process' own connection pool) and the limit shrinks by
  `queue_cut`, like Netflix's gradient limit;
- a 429 or 503 cuts it by `throttle_cut` (AIMD's multiplicative decrease), once per round:
  answers to requests sent before the last cut do not cut again;
- a `Retry-After` pauses every request, not just the one that got it: nothing starts before
  the pause ends;
- a rate limit is not a concurrency limit (at 1 ms a request, one in flight is still 1,000 a
  second), so a 429 also spaces the starts of requests apart: the spacing starts at the
  Retry-After (at most `max_spacing`), or at the pace of the starts the API let through in the
  last `rate_window` seconds when that is slower (what the API accepts is its rate; a
  Retry-After only says when the next one will pass), grows by half on each further cut,
  and shrinks by `spacing_decay` with every answer that is not
  throttled, until it is gone (the additive increase, multiplicative decrease of a sending
  rate, as AWS SDKs' adaptive retry mode does, which also starts again from the measured rate).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LimiterSettings:
    """Where the limit starts, its bounds, and how hard it reacts."""

    initial: int = 8
    minimum: int = 1
    maximum: int = 64
    tolerance: float = 2.0
    throttle_cut: float = 0.5
    queue_cut: float = 0.9
    smoothing: float = 0.1
    baseline_drift: float = 0.002
    max_spacing: float = 1.0
    spacing_decay: float = 0.98
    rate_window: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.initial <= self.maximum:
            raise ValueError("the limiter needs 1 <= minimum <= initial <= maximum")
        if self.tolerance <= 1 or not 0 < self.throttle_cut < 1 or not 0 < self.queue_cut < 1:
            raise ValueError("tolerance must exceed 1, the cuts must lie in (0, 1)")


@dataclass(frozen=True)
class Ticket:
    """One request let through: its place in the order sent, when, on which route, and how many
    were in flight with it."""

    seq: int
    route: str
    started: float
    load: int = 1


@dataclass(frozen=True)
class Cut:
    """The limit went down: the status that said so (429/503), from what to what, and how long
    everything now waits."""

    status: int
    before: int
    after: int
    pause: float


@dataclass
class RunTotals:
    """What the run's summary reports: 429s absorbed, the most requests that were in flight."""

    throttled: int = 0
    overloaded: int = 0
    peak: int = 0


@dataclass
class AdaptiveLimit:
    """The adaptive concurrency limit of one run; `clock` is injected (monotonic seconds)."""

    clock: Callable[[], float]
    settings: LimiterSettings = field(default_factory=LimiterSettings)
    in_flight: int = 0
    totals: RunTotals = field(default_factory=RunTotals)
    paused_until: float = 0.0
    spacing: float = 0.0
    slow_start: bool = True
    _limit: float = 0.0
    _sent: int = 0
    _cut_at: int = 0
    _ratio: float = 1.0
    _acked: int = 0
    _next_start: float = 0.0
    _best: dict[str, float] = field(default_factory=dict)
    _starts: deque[float] = field(default_factory=deque)
    _refused: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._limit = float(self.settings.initial)

    @property
    def limit(self) -> int:
        """Requests that may be in flight now."""
        return max(self.settings.minimum, int(self._limit))

    def pause_left(self) -> float:
        """Seconds until a `Retry-After` pause, or the spacing since the last start, ends."""
        return max(0.0, max(self.paused_until, self._next_start) - self.clock())

    def has_room(self) -> bool:
        return self.in_flight < self.limit and self.pause_left() == 0

    def start(self, route: str) -> Ticket:
        """Counts a request as in flight (the caller checked `has_room`)."""
        self._sent += 1
        self.in_flight += 1
        now = self.clock()
        self._starts.append(now)
        self._forget_before(now - self.settings.rate_window)
        if self.spacing > 0:
            self._next_start = now + self.spacing
        self.totals.peak = max(self.totals.peak, self.in_flight)
        return Ticket(self._sent, route, now, self.in_flight)

    def answered(self, ticket: Ticket) -> None:
        """A request came back with an answer that says nothing of load (2xx, 4xx but 429)."""
        busy = max(ticket.load, self.in_flight) >= self._limit / 2
        self.in_flight -= 1
        if self.spacing > 0:
            self.spacing *= self.settings.spacing_decay
            if self.spacing < 1e-3:
                self.spacing = 0.0
        latency = self.clock() - ticket.started
        if self._queueing(ticket.route, latency):
            if ticket.seq > self._cut_at:
                self._cut(self.settings.queue_cut)
            return
        if not busy or self._limit >= self.settings.maximum:
            return
        if self.slow_start:
            self._limit += 1.0
        else:  # one more per round of `limit` answers (TCP counts acknowledged bytes the same way)
            self._acked += 1
            if self._acked >= self._limit:
                self._acked, self._limit = 0, self._limit + 1.0
        self._limit = min(float(self.settings.maximum), self._limit)

    def failed(self, ticket: Ticket) -> None:
        """A request ended without an answer (connection lost, timed out, cancelled)."""
        self.in_flight -= 1

    def left(self, ticket: Ticket) -> None:
        """A request gave its place back early: a long-poll, once sent, is held by the server
        and loads nothing; it passed through the line only to be sent in turn."""
        self.in_flight -= 1

    def throttled(
        self, ticket: Ticket, status: int, retry_after: float | None, *, placed: bool = True
    ) -> Cut | None:
        """A 429 or 503: count it, pause everyone for `retry_after`, cut the limit once a round
        (`placed`: the request still held its place).

        Returns the cut (for a progress line) when this answer made one."""
        if placed:
            self.in_flight -= 1
        if status == 429:
            self.totals.throttled += 1
            self._refused.append(ticket.started)
        else:
            self.totals.overloaded += 1
        pause = max(0.0, retry_after or 0.0)
        self.paused_until = max(self.paused_until, self.clock() + pause)
        if ticket.seq <= self._cut_at:
            return None
        before = self.limit
        self._cut(self.settings.throttle_cut)
        if status == 429:
            first = min(pause, self.settings.max_spacing)
            measured = self._accepted_pace() or 0.0
            grown = max(self.spacing * 1.5, first, measured, 0.005)
            self.spacing = min(grown, self.settings.max_spacing)
        return Cut(status, before, self.limit, pause)

    def _accepted_pace(self) -> float | None:
        """Seconds between the starts the API let through over the last `rate_window` (None
        with too few to tell); the requests still unanswered count as let through."""
        now = self.clock()
        since = now - self.settings.rate_window
        self._forget_before(since)
        # refusals are kept in answer order, not start order: one behind the head may be older
        accepted = len(self._starts) - sum(1 for t in self._refused if t >= since)
        if accepted < 4 or not self._starts:
            return None
        return (now - self._starts[0]) / accepted

    def _forget_before(self, since: float) -> None:
        """Drops the starts and refusals older than `since` (the rate window's edge)."""
        for times in (self._starts, self._refused):
            while times and times[0] < since:
                times.popleft()

    def _cut(self, factor: float) -> None:
        self.slow_start = False
        self._cut_at = self._sent
        self._limit = max(float(self.settings.minimum), self._limit * factor)
        self._ratio = 1.0

    def _queueing(self, route: str, latency: float) -> bool:
        """Whether answers have been slow against each route's best for a while."""
        latency = max(latency, 1e-4)
        best = self._best.get(route)
        if best is None or latency < best:
            best = latency
        else:
            best += (latency - best) * self.settings.baseline_drift
        self._best[route] = best
        alpha = self.settings.smoothing
        self._ratio += (latency / best - self._ratio) * alpha
        return self._ratio > self.settings.tolerance and not math.isclose(self._ratio, 1.0)
