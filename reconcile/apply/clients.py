"""The API client an apply run uses, and the retry policy its creates use; no decisions.

A create that failed ambiguously (dropped connection, timeout, 5xx) may have happened, so
creates are sent with retries off (`NO_RETRY`): the operation looks the resource up by its
token before trying again (see `creating.py`). The run's request count includes the
requests made while planning (`earlier`).
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
    """The run's client (`main`) and its request accounting."""

    main: RunloopClient
    earlier: int = 0  # requests of this run made before this client (e.g. while planning)

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
        client = RunloopClient(
            base_url,
            api_key,
            retry=retry,
            max_connections=max_connections,
            transport=transport,
            on_retry=on_retry,
            sleep=sleep,
            clock=clock,
        )
        return cls(main=client)

    @property
    def requests(self) -> int:
        """Requests of this run so far (retries and long-poll rounds included)."""
        return self.earlier + self.main.stats.total

    def by_route(self) -> dict[str, int]:
        return dict(self.main.stats.by_route)

    async def aclose(self) -> None:
        await self.main.aclose()

    async def __aenter__(self) -> ApiClients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
