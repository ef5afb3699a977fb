"""RunloopClient: the reconciler's one way to talk to a Runloop-compatible API over HTTP.

It builds the shared HTTP core (pool, retries, accounting) and exposes the endpoint groups;
it holds no state of the reconciler and prints nothing. Use it as `async with`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

import httpx

from reconcile.api.base import PAGE_LIMIT
from reconcile.api.devboxes import DevboxEndpoints
from reconcile.api.http import MAX_CONNECTIONS, HttpCore, RequestStats
from reconcile.api.limiter import AdaptiveLimit, Cut
from reconcile.api.retry import RetryEvent, RetryPolicy
from reconcile.api.servertime import ApiClock
from reconcile.api.storage import StorageEndpoints


class RunloopClient(DevboxEndpoints, StorageEndpoints):
    """Async client of the Runloop API subset rlstate uses; one method per endpoint.

    `sleep` and `clock` are injectable so tests wait for nothing; `page_limit` exists so
    tests can prove cursor paging with small pages. `max_connections` caps the requests in
    flight (at most 64; the adaptive limit finds how many below it). `limit` shares one run's
    adaptive limit between clients (plan, then apply); `on_cut` hears of each cut of it.
    `lean` sends the API's own requests over wire.py's HTTP/1.1 client instead of httpx (a
    fraction of the CPU per request; the commands use it, in-process recorders need httpx).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        retry: RetryPolicy | None = None,
        max_connections: int = MAX_CONNECTIONS,
        transport: httpx.AsyncBaseTransport | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        page_limit: int = PAGE_LIMIT,
        limit: AdaptiveLimit | None = None,
        on_cut: Callable[[Cut], None] | None = None,
        lean: bool = False,
    ) -> None:
        self._http = HttpCore(
            base_url,
            api_key,
            retry=retry or RetryPolicy(),
            max_connections=max_connections,
            transport=transport,
            on_retry=on_retry,
            sleep=sleep,
            clock=clock,
            limit=limit,
            on_cut=on_cut,
            lean=lean,
        )
        self._page_limit = max(1, min(page_limit, PAGE_LIMIT))

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def stats(self) -> RequestStats:
        """Requests sent so far by route template, retries included."""
        return self._http.stats

    @property
    def limit(self) -> AdaptiveLimit:
        """The adaptive limit this client's requests run under (its totals: 429s, peak)."""
        return self._http.limit

    @property
    def api_clock(self) -> ApiClock:
        """The API's time, as its answers' `Date` headers tell it."""
        return self._http.api_clock

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._http.retry

    def __repr__(self) -> str:
        return f"RunloopClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> RunloopClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
