"""What every route module needs: the server's Services, JSON answers and the long-poll wait."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from reconcile.localapi.problems import TimedOut
from reconcile.localapi.services import Services


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def ok(payload: Any) -> JSONResponse:
    return JSONResponse(payload, status_code=200)


def timed_out(what: str, seconds: float) -> TimedOut:
    return TimedOut(f"{what} did not reach a requested status within {seconds:g} s")
