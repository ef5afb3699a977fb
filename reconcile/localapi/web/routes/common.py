"""What every route module needs: the server's Services, JSON answers, the long-poll timeout,
one page of a list and the metadata key/value listings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reconcile.localapi.services import Services
from reconcile.localapi.state.listing import paginate
from reconcile.localapi.state.problems import TimedOut
from reconcile.localapi.web.routes.params import query_bool, query_int, query_str


class _Record(Protocol):
    id: str


RecordT = TypeVar("RecordT", bound=_Record)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def ok(payload: Any) -> JSONResponse:
    return JSONResponse(payload, status_code=200)


def timed_out(what: str, seconds: float) -> TimedOut:
    return TimedOut(f"{what} did not reach a requested status within {seconds:g} s")


def list_page(
    request: Request,
    records: Iterable[RecordT],
    *,
    field: str,
    prefix: str,
    view: Callable[[RecordT], Any],
    keep: Callable[[RecordT], bool],
) -> JSONResponse:
    """One page of a list answer: the records that pass `keep`, newest id first, from the
    request's `limit`, `starting_after` and `include_total_count`, as `{field: [...],
    "has_more": ..., "total_count": ...}` (the count only when asked for)."""
    page = paginate(
        records,
        key=lambda r: r.id,
        limit=query_int(request, "limit"),
        starting_after=query_str(request, "starting_after"),
        prefix=prefix,
        include_total=query_bool(request, "include_total_count", True),
        keep=keep,
    )
    payload = {field: [view(r) for r in page.items], "has_more": page.has_more}
    if page.total_count is not None:
        payload["total_count"] = page.total_count
    return ok(payload)


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
