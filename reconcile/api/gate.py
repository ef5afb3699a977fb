"""Holds API requests until the run's adaptive limit (limiter.py) lets them go; the waiting only.

Requests wait in line, those on more attempts first (a request throttled once must not be
overtaken until its retry budget runs out); a `Retry-After` pause holds every one of them.
Long-polls are sent in turn (the server counts them against its rate limit) but give their
place back once sent: the server holds them, they load nothing. It knows nothing of HTTP;
http.py tells it how each request ended.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from reconcile.api.limiter import AdaptiveLimit, Cut, Ticket

Sleep = Callable[[float], Awaitable[None]]
OnCut = Callable[[Cut], None]

# Attempts a caller already made of the same thing outside the HTTP layer's own retries (a
# create that retries a 429 itself); they count towards the request's place in line.
earlier_attempts: ContextVar[int] = ContextVar("earlier_attempts", default=0)


@dataclass
class Admission:
    """A request let through; `http.py` says how it ended (unsaid: it failed without answer)."""

    ticket: Ticket
    placed: bool = True
    ending: tuple[str, int, float | None] | None = None

    def answered(self) -> None:
        self.ending = ("answered", 0, None)

    def throttled(self, status: int, retry_after: float | None) -> None:
        self.ending = ("throttled", status, retry_after)


class Gate:
    """The line in front of one client's requests; `limit` may be shared by several clients.

    A place is handed over, not raced for: whoever is called has its ticket already, so no first
    attempt slips in ahead of a retry when a pause ends."""

    def __init__(self, limit: AdaptiveLimit, sleep: Sleep, on_cut: OnCut | None = None) -> None:
        self.limit = limit
        self._sleep = sleep
        self._on_cut = on_cut
        self._line: list[tuple[int, int, str, asyncio.Future[Ticket]]] = []
        self._order = itertools.count()
        self._timer: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def admit(
        self, route: str, *, attempt: int = 1, long_poll: bool = False
    ) -> AsyncIterator[Admission]:
        """Waits for a place (or only for a pause, on a long-poll), then holds it until the
        request has ended and its ending was learnt from. Requests on their n-th attempt go
        before those on fewer, so a throttled request is not overtaken until its budget is out."""
        attempt += earlier_attempts.get()
        admission = Admission(await self._acquire(route, attempt))
        if long_poll:  # sent in turn, but then held by the server: it gives its place back
            self.limit.left(admission.ticket)
            admission.placed = False
            self._wake()
        try:
            yield admission
        finally:
            self._release(admission)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def _acquire(self, route: str, attempt: int) -> Ticket:
        if not self._line and self.limit.has_room():
            return self.limit.start(route)
        turn: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._line, (-attempt, next(self._order), route, turn))
        self._wake()
        try:
            return await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.limit.failed(turn.result())  # called, but leaving: pass the place on
                self._wake()
            raise

    def _release(self, admission: Admission) -> None:
        ticket, ending = admission.ticket, admission.ending
        if ending is not None and ending[0] == "throttled":
            cut = self.limit.throttled(ticket, ending[1], ending[2], placed=admission.placed)
            if cut is not None and self._on_cut is not None:
                self._on_cut(cut)
        elif not admission.placed:
            return
        elif ending is None:
            self.limit.failed(ticket)
        else:
            self.limit.answered(ticket)
        self._wake()

    def _wake(self) -> None:
        """Hands places to the head of the line, as many as the limit has room for."""
        if self.limit.pause_left() > 0:
            if self._line and (self._timer is None or self._timer.done()):
                self._timer = asyncio.ensure_future(self._after_pause())
            return
        while self._line and self.limit.in_flight < self.limit.limit:
            _, _, route, turn = heapq.heappop(self._line)
            if not turn.done():
                turn.set_result(self.limit.start(route))

    async def _after_pause(self) -> None:
        while (pause := self.limit.pause_left()) > 0:
            await self._sleep(pause)
        self._wake()
