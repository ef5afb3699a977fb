"""What every route module needs: the server's Services, JSON answers, the long-poll timeout and
the metadata key/value listings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reconcile.localapi.services import Services
from reconcile.localapi.state.problems import TimedOut


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def ok(payload: Any) -> JSONResponse:
    return JSONResponse(payload, status_code=200)


def timed_out(what: str, seconds: float) -> TimedOut:
    return TimedOut(f"{what} did not reach a requested status within {seconds:g} s")


def metadata_keys(maps: Iterable[Mapping[str, str] | None]) -> JSONResponse:
    """MetadataKeysView: every key used in the given metadata maps, sorted."""
    return ok({"keys": sorted({k for m in maps for k in (m or {})})})


def metadata_values(maps: Iterable[Mapping[str, str] | None], key: str) -> JSONResponse:
    """MetadataValuesView: every value `key` has in the given metadata maps, sorted."""
    return ok({"key": key, "values": sorted({m[key] for m in maps if m and key in m})})


MetadataSource = Callable[[Request], Iterable[Mapping[str, str] | None]]


def metadata_routes(prefix: str, source: MetadataSource) -> list[Route]:
    """GET PREFIX/metadata/keys and PREFIX/metadata/keys/{key}/values over source's maps."""

    async def keys(request: Request) -> JSONResponse:
        return metadata_keys(source(request))

    async def values(request: Request) -> JSONResponse:
        return metadata_values(source(request), request.path_params["key"])

    return [
        Route(f"{prefix}/metadata/keys", keys, methods=["GET"]),
        Route(f"{prefix}/metadata/keys/{{key}}/values", values, methods=["GET"]),
    ]
