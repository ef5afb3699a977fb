"""The API clients an apply run uses: one for everything, one that never retries creates.

A create that failed ambiguously (dropped connection, timeout, 5xx) may have happened. The
shared client would retry it blindly; creates instead go through a client with retries off
so the operation can look the resource up by its token before trying again (see
`creating.py`). Both count requests, so the run can report its total. No decisions here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

import httpx

from reconcile.api import RetryEvent, RetryPolicy, RunloopClient

NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass
class ApiClients:
    """`main` for reads, waits and idempotent writes; `creates` for calls that make things."""

    main: RunloopClient
    creates: RunloopClient
    earlier: int = 0  # requests of this run made before these clients (e.g. planning)

    @classmethod
    def open(
        cls,
        base_url: str,
        api_key: str | None,
        *,
        on_retry: Callable[[RetryEvent], None] | None = None,
        retry: RetryPolicy | None = None,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> ApiClients:
        def build(policy: RetryPolicy | None) -> RunloopClient:
            return RunloopClient(
                base_url,
                api_key,
                retry=policy,
                max_connections=max_connections,
                transport=transport,
                on_retry=on_retry,
                sleep=sleep,
                clock=clock,
            )

        return cls(main=build(retry), creates=build(NO_RETRY))

    @property
    def requests(self) -> int:
        """Requests of this run so far (retries and long-poll rounds included)."""
        return self.earlier + self.main.stats.total + self.creates.stats.total

    def by_route(self) -> dict[str, int]:
        merged = dict(self.main.stats.by_route)
        for key, count in self.creates.stats.by_route.items():
            merged[key] = merged.get(key, 0) + count
        return merged

    async def aclose(self) -> None:
        await self.main.aclose()
        await self.creates.aclose()

    async def __aenter__(self) -> ApiClients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
