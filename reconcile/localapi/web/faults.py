"""Fault injection for /v1/ requests (never /_local/ or signed storage URLs): latency, a
request-rate limit per token (429 + Retry-After, like the cloud's account limit), error
answers, dropped connections (before acting) and lost answers (after acting: the ambiguous
failure a client must resolve by looking up what it made), as set by LocalConfig or
POST /_local/faults. Pure ASGI middleware."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reconcile.localapi.config import FaultSettings
from reconcile.localapi.web.ratelimit import RateLimits, retry_after_headers


class DropConnection(BaseException):
    """Raised before anything is sent: the HTTP server closes the connection without an answer
    (server.py's protocol does that; other ASGI servers answer 500 or fail the call). It is a
    BaseException so that no `except Exception` (Starlette's 500 handler) answers it."""


async def _swallow(_message: object) -> None:
    """A `send` that discards the answer (the request was carried out; nobody hears of it)."""


class FaultMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        settings: Callable[[], FaultSettings],
        dice: random.Random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.settings = settings
        self.dice = dice
        self.limits = RateLimits(clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        faults = self.settings()
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.rate_limit:
            key = Headers(scope=scope).get("authorization", "")
            wait = self.limits.wait_for(key, faults.rate_limit, faults.rate_limit_burst)
            if wait > 0:
                body = {"message": f"rate limit exceeded: {faults.rate_limit:g} requests/s"}
                reply = JSONResponse(body, 429, retry_after_headers(wait))
                await reply(scope, receive, send)
                return
        if faults.drop_rate > 0 and self.dice.random() < faults.drop_rate:
            raise DropConnection("injected fault: connection dropped")
        lose = scope["method"] == "POST" and self.dice.random() < faults.lost_answer_rate
        if lose:
            await self.app(scope, receive, _swallow)
            raise DropConnection("injected fault: carried out, answer lost")
        if faults.rate > 0 and faults.statuses and self.dice.random() < faults.rate:
            status = self.dice.choice(faults.statuses)
            headers = {}
            if faults.retry_after is not None:
                headers["retry-after"] = f"{faults.retry_after:g}"
            reply = JSONResponse({"message": f"injected fault: HTTP {status}"}, status, headers)
            await reply(scope, receive, send)
            return
        await self.app(scope, receive, send)
