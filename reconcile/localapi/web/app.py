"""Builds the local server's ASGI app: routes, bearer auth (auth.py), fault injection, x-request-id
replay and JSON error bodies. No resource logic here (routes/, state/ and workers/ hold it)."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconcile.localapi.config import LocalConfig, resolve_token
from reconcile.localapi.services import Services
from reconcile.localapi.state.problems import Problem
from reconcile.localapi.web import admin
from reconcile.localapi.web.auth import AuthMiddleware
from reconcile.localapi.web.faults import FaultMiddleware
from reconcile.localapi.web.httpdate import DateMiddleware
from reconcile.localapi.web.idempotency import IdempotencyMiddleware
from reconcile.localapi.web.routes.table import resource_routes
from reconcile.localapi.web.strict import StrictInputMiddleware

log = logging.getLogger("reconcile.localapi")


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    headers = {}
    if exc.retryable is not None:
        headers["x-should-retry"] = "true" if exc.retryable else "false"
    return JSONResponse({"message": exc.message}, status_code=exc.status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    if exc.status_code == 404:
        path = request.url.path
        message = "no such endpoint"
        if len(path) > 1 and path.endswith("/"):  # the spec has no such paths; no redirect
            message += f" ({path}: API paths take no trailing slash)"
    return JSONResponse({"message": message}, status_code=exc.status_code, headers=exc.headers)


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"message": f"internal error: {type(exc).__name__}"}, status_code=500)


def create_app(config: LocalConfig) -> Starlette:
    """The ASGI app of one local server over `config.data_dir` (records load at startup)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    svc = Services.build(config, resolve_token(config))
    dice = random.Random(svc.backend.settings.faults.seed)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    routes = [*resource_routes(), *admin.ROUTES]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(DateMiddleware, now_ms=lambda: svc.backend.now_ms()),
            Middleware(AuthMiddleware, services=svc),
            Middleware(StrictInputMiddleware),  # wrong types: 400 before any route or replay
            Middleware(FaultMiddleware, settings=lambda: svc.backend.settings.faults, dice=dice),
            Middleware(IdempotencyMiddleware, store=lambda: svc.store),
        ],
        exception_handlers={Problem: _problem, HTTPException: _http_error, Exception: _crash},
    )
    app.router.redirect_slashes = False  # a 307 would resend a POST body elsewhere
    app.state.services = svc
    app.state.fault_dice = dice
    return app
