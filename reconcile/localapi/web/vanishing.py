"""Answers into the void once a client has gone. hypercorn (0.18) passes an answer sent after an
HTTP/2 client closed its connection on to the closed connection, where it waits forever for a send
loop that has ended; a long-poll that a vanished client had held then never finishes, and a stop
waits its graceful timeout and prints a traceback. Pure ASGI wrapping; no decisions."""

from __future__ import annotations

import asyncio
from typing import Any

_GONE = {"type": "http.disconnect"}


class Vanishing:
    """(receive, send) for the app: messages are read ahead, one at a time, so a disconnect is
    seen while the app is busy; once seen, sends are dropped and every receive says disconnect.
    `close` ends the reading ahead when the app is done."""

    def __init__(self, receive: Any, send: Any) -> None:
        self._receive = receive
        self._send = send
        self._next: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)  # keeps upload back-pressure
        self.gone = False
        self._reader = asyncio.ensure_future(self._read_ahead())

    async def _read_ahead(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.gone = True  # before the put, which waits while the app reads nothing
            await self._next.put(message)
            if self.gone:
                return

    async def receive(self) -> Any:
        if self.gone and self._next.empty():
            return _GONE
        return await self._next.get()

    async def send(self, message: Any) -> None:
        if not self.gone:
            await self._send(message)

    def close(self) -> None:
        self._reader.cancel()
