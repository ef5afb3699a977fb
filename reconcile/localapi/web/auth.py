"""The bearer-token check of the local server's API (the signed storage URLs carry their own)."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reconcile.localapi.services import Services
from reconcile.localapi.signing import STORAGE_PREFIX


class AuthMiddleware:
    """Every path but the signed storage URLs needs `Authorization: Bearer <token>`.

    It also starts the services on the first request when no lifespan ran (e.g. ASGI transports).
    """

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.services.started:
            await self.services.start()
        if not str(scope["path"]).startswith(STORAGE_PREFIX) and not self._authorized(scope):
            reply = JSONResponse(
                {"message": "missing or invalid API key: send Authorization: Bearer <token>"},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
            await reply(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.services.token.encode()
        )
