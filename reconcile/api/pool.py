"""The httpx connections of one client, spread over several small pools; no retries, no limits.

What goes through httpx: presigned storage URLs, and every request when a proxy is set in the
environment or a transport is given (tests, recorders); the commands' API requests otherwise
go over wire.py, which costs a fraction of the CPU.

httpx (httpcore) scans every connection of a pool on each request, and probes each idle one's
socket, so one pool's cost per request grows with its size: measured against the local backend
at 50 ms per answer, 600 status reads took 6.7-8.6 s (2.0-2.5 s of client CPU) with 24 in flight
on one AsyncClient, 4.2 s (1.0 s) on three clients of 8, 3.6 s on six. So requests go to the
least busy of several AsyncClients of SHARD_SIZE connections, made as they are needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import httpx

SHARD_SIZE = 8


class Shards:
    """AsyncClients of up to SHARD_SIZE connections each, `connections` in all."""

    def __init__(self, connections: int, build: Callable[[int], httpx.AsyncClient]) -> None:
        self.size = min(SHARD_SIZE, connections)
        self.most = math.ceil(connections / self.size)
        self._build = build
        self.clients: list[httpx.AsyncClient] = [build(self.size)]
        self.busy: list[int] = [0]

    def take(self) -> int:
        """The index of the client the next request should use (counted busy until `give`)."""
        index = min(range(len(self.clients)), key=self.busy.__getitem__)
        if self.busy[index] >= self.size and len(self.clients) < self.most:
            self.clients.append(self._build(self.size))
            self.busy.append(0)
            index = len(self.clients) - 1
        self.busy[index] += 1
        return index

    def give(self, index: int) -> None:
        self.busy[index] -= 1

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()
