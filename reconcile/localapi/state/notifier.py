"""Long-poll wake-ups: waiters sleep on a key until a change of it is announced; no records."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Notifier:
    """`notify(key)` wakes every `wait_until(key, ...)` so it can re-check its condition."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self.closing = False

    def close(self) -> None:
        """The server is stopping: every wait ends now, and new ones do not hold (held requests
        answer as on a timeout instead of being cancelled by the server's shutdown)."""
        self.closing = True
        self.notify_all()

    def notify(self, key: str) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    def notify_all(self) -> None:
        for key in list(self._events):
            self.notify(key)

    async def wait_until(self, key: str, ready: Callable[[], bool], timeout: float | None) -> bool:
        """True once `ready()` holds; False if `timeout` seconds pass first (None waits forever)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + max(timeout, 0.0)
        while not ready():
            remaining = None if deadline is None else deadline - loop.time()
            if self.closing or (remaining is not None and remaining <= 0):
                return False
            event = self._events.setdefault(key, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return ready()
        return True

    async def next_change(self, key: str, timeout: float) -> None:
        """Sleep until the next `notify(key)` or `timeout` seconds, whichever comes first."""
        if self.closing:
            return
        event = self._events.setdefault(key, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return
