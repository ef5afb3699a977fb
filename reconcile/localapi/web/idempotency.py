"""x-request-id: a POST that comes again with an id already answered (within an hour, across
restarts) gets the stored answer if it is the same request (method, path and body), and a 409
naming the header if it is another one (clients reuse an id only to retry one call). Only 200
answers are stored, so a refused or failed attempt is simply tried again. Pure ASGI middleware."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconcile.localapi.state.sqlite_store import Store, StoredReply
from reconcile.localapi.web.buffered import read_all, replaying

KEEP_MS = 3600 * 1000
MAX_BODY = 1 << 20
# POSTs that only read or wait: nothing to protect, and their answers should be fresh.
NOT_DEDUPED = ("/wait_for_status", "/read_file_contents", "/download_file")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: Callable[[], Store]) -> None:
        self.app = app
        self.store = store
        self._inflight: dict[str, asyncio.Future[None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        request_id = Headers(scope=scope).get("x-request-id") if scope["type"] == "http" else None
        if scope["type"] != "http" or not path.startswith("/v1/") or not request_id:
            await self.app(scope, receive, send)
            return
        method = str(scope["method"])
        stored = method == "POST" and not path.endswith(NOT_DEDUPED)
        raw = b""
        if method == "POST":
            raw = await read_all(receive)
            receive = replaying(raw, receive)
        digest = _digest(raw, Headers(scope=scope).get("content-type", ""))
        while (running := self._inflight.get(request_id)) is not None:
            await asyncio.shield(running)  # the first attempt is still being answered
        reply = self.store().get_reply(request_id, _now_ms() - KEEP_MS)
        if reply is not None:
            if (reply.method, reply.path, reply.digest) != (method, path, digest):
                await _conflict(reply)(scope, receive, send)
            else:
                await _replay(reply, send)
            return
        if not stored:
            await self.app(scope, receive, send)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[request_id] = done
        try:
            await self._answer_and_keep(request_id, (method, path, digest), scope, receive, send)
        finally:
            del self._inflight[request_id]
            done.set_result(None)

    async def _answer_and_keep(
        self,
        request_id: str,
        request: tuple[str, str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
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
            reply = StoredReply(*request, status=status, headers=kept, body=bytes(body))
            self.store().put_reply(request_id, reply, _now_ms())


def _digest(raw: bytes, content_type: str) -> str:
    """A hash of the body; a multipart body's boundary (new on every attempt) does not count."""
    boundary = content_type.partition("boundary=")[2].split(";")[0].strip().strip('"')
    if content_type.startswith("multipart/") and boundary:
        raw = raw.replace(boundary.encode("latin-1"), b"BOUNDARY")
    return hashlib.sha256(raw).hexdigest()


def _conflict(reply: StoredReply) -> JSONResponse:
    message = (
        f"x-request-id: already used for another request ({reply.method} {reply.path}"
        " with another body or to another path); an id may only be reused to retry the same call"
    )
    return JSONResponse({"message": message}, status_code=409, headers={"x-should-retry": "false"})


async def _replay(reply: StoredReply, send: Send) -> None:
    headers = [(k.encode(), v.encode()) for k, v in reply.headers]
    headers.append((b"x-idempotent-replay", b"true"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


def _now_ms() -> int:
    return int(time.time() * 1000)
