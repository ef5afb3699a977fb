"""Replays the stored answer when a POST comes again with an x-request-id already seen (same method
and path, within an hour, across restarts). Only 200 answers are stored, so a refused or failed
attempt is simply tried again. Pure ASGI middleware."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconcile.localapi.state.sqlite_store import Store, StoredReply

KEEP_MS = 3600 * 1000
MAX_BODY = 1 << 20
# POSTs that only read or wait: nothing to protect, and their answers should be fresh.
NOT_DEDUPED = ("/wait_for_status", "/read_file_contents", "/download_file")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: Callable[[], Store]) -> None:
        self.app = app
        self.store = store
        self._inflight: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        request_id = Headers(scope=scope).get("x-request-id") if scope["type"] == "http" else None
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith("/v1/")
            or path.endswith(NOT_DEDUPED)
            or not request_id
        ):
            await self.app(scope, receive, send)
            return
        key = (request_id, path)
        while (running := self._inflight.get(key)) is not None:
            await asyncio.shield(running)  # the first attempt is still being answered
        if await self._replay(key, send):
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = done
        try:
            await self._answer_and_keep(key, scope, receive, send)
        finally:
            del self._inflight[key]
            done.set_result(None)

    async def _replay(self, key: tuple[str, str], send: Send) -> bool:
        reply = self.store().get_reply(key[0], "POST", key[1], _now_ms() - KEEP_MS)
        if reply is None:
            return False
        headers = [(k.encode(), v.encode()) for k, v in reply.headers]
        headers.append((b"x-idempotent-replay", b"true"))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        return True

    async def _answer_and_keep(
        self, key: tuple[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        status = 0
        headers: list[tuple[str, str]] = []
        body = bytearray()
        complete = False

        async def capture(message: Message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers.extend((k.decode(), v.decode()) for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body" and len(body) <= MAX_BODY:
                body.extend(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, capture)
        if status == 200 and complete and len(body) <= MAX_BODY:
            kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
            kept.append(("content-length", str(len(body))))
            reply = StoredReply(status=status, headers=kept, body=bytes(body))
            self.store().put_reply(key[0], "POST", key[1], reply, _now_ms())


def _now_ms() -> int:
    return int(time.time() * 1000)
