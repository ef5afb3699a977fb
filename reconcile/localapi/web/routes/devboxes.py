"""Routes for /v1/devboxes: create, list, retrieve, update, lifecycle actions, wait_for_status."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconcile.localapi.state.problems import Invalid, NotFound, WrongState
from reconcile.localapi.state.records import DEVBOX_FINAL, DEVBOX_KNOWN_STATUSES, Devbox
from reconcile.localapi.web.routes.common import (
    list_page,
    metadata_routes,
    ok,
    services,
    timed_out,
)
from reconcile.localapi.web.routes.devbox_create import CREATE_FIELDS, devbox_from_body
from reconcile.localapi.web.routes.params import (
    clamp_timeout,
    query_bool,
    query_str,
    read_body,
)
from reconcile.localapi.web.views import devbox_view

WAIT_DEFAULT, WAIT_MAX = 10.0, 30.0
CREATE_AND_AWAIT_HOLD = 25.0  # under the SDK's 30 s client timeout


async def create(request: Request) -> Response:
    svc = services(request)
    body = await read_body(request, CREATE_FIELDS)
    dbx = svc.lifecycle.launch(devbox_from_body(body, svc))
    return ok(devbox_view(dbx))


async def create_and_await_running(request: Request) -> Response:
    """SDK 3.0: create, then hold until running (or final) for up to 25 s; the view either way."""
    svc = services(request)
    body = await read_body(request, CREATE_FIELDS)
    dbx = svc.lifecycle.launch(devbox_from_body(body, svc))
    await _hold(request, dbx, {"running"}, CREATE_AND_AWAIT_HOLD)
    return ok(devbox_view(dbx))


async def list_devboxes(request: Request) -> Response:
    svc = services(request)
    status = query_str(request, "status")
    if status is not None and status not in DEVBOX_KNOWN_STATUSES:
        raise Invalid(f"status: must be one of {', '.join(DEVBOX_KNOWN_STATUSES)}")
    name = query_str(request, "name")
    search = query_str(request, "search")

    def keep(dbx: Devbox) -> bool:
        if status is not None and dbx.status != status:
            return False
        if name is not None and name not in (dbx.name or ""):
            return False
        return search is None or search == dbx.id or search in (dbx.name or "")

    return list_page(
        request,
        svc.backend.devboxes.values(),
        field="devboxes",
        prefix="dbx_",
        view=devbox_view,
        keep=keep,
    )


def _devbox(request: Request) -> Devbox:
    return services(request).backend.devbox(request.path_params["id"])


async def retrieve(request: Request) -> Response:
    return ok(devbox_view(_devbox(request)))


async def update(request: Request) -> Response:
    """SDK semantics: an absent field stays, "" clears the name, {} clears the metadata."""
    dbx = _devbox(request)
    body = await read_body(request, ("name", "metadata"))
    name, metadata = body.text("name"), body.str_map("metadata")
    if name is not None:
        dbx.name = name or None
    if metadata is not None:
        dbx.metadata = metadata
    services(request).backend.save(dbx)
    return ok(devbox_view(dbx))


async def shutdown(request: Request) -> Response:
    dbx = _devbox(request)
    await read_body(request)
    force = query_bool(request, "force", False)
    return ok(devbox_view(await services(request).lifecycle.shutdown(dbx, force)))


async def suspend(request: Request) -> Response:
    dbx = _devbox(request)
    await read_body(request)
    return ok(devbox_view(services(request).lifecycle.suspend(dbx)))


async def resume(request: Request) -> Response:
    dbx = _devbox(request)
    await read_body(request)
    return ok(devbox_view(services(request).lifecycle.resume(dbx)))


async def keep_alive(request: Request) -> Response:
    """For a running devbox, as the API documents it (a devbox that ended has no timer to reset);
    answered without effect, since idle and keep-alive timers are not emulated."""
    dbx = _devbox(request)
    await read_body(request)
    if dbx.status != "running":
        raise WrongState(f"devbox {dbx.id} is {dbx.status}; keep_alive needs a running devbox")
    return ok({})


async def wait_for_status(request: Request) -> Response:
    """200 at once when the devbox is in a requested or a final status; else hold, then 408."""
    dbx = _devbox(request)
    body = await read_body(request, ("statuses", "timeout_seconds"))
    statuses = body.str_list("statuses", required=True) or []
    if not statuses:
        raise Invalid("statuses: give at least one status")
    for status in statuses:
        if status not in DEVBOX_KNOWN_STATUSES:
            raise Invalid(f"statuses: {status!r} is not one of {', '.join(DEVBOX_KNOWN_STATUSES)}")
    hold = clamp_timeout(body.number("timeout_seconds"), WAIT_DEFAULT, WAIT_MAX)
    if not await _hold(request, dbx, set(statuses), hold):
        raise timed_out(f"devbox {dbx.id}", hold)
    return ok(devbox_view(dbx))


async def _hold(request: Request, dbx: Devbox, statuses: set[str], seconds: float) -> bool:
    b = services(request).backend

    def settled() -> bool:
        return (
            dbx.status in statuses
            or dbx.status in DEVBOX_FINAL
            or b.devboxes.get(dbx.id) is not dbx
        )

    reached = await b.notifier.wait_until(dbx.id, settled, seconds)
    if b.devboxes.get(dbx.id) is not dbx:
        raise NotFound(f"devbox {dbx.id} not found")
    return reached


def _live_metadata(request: Request) -> list[dict[str, str]]:
    return [d.metadata for d in services(request).backend.devboxes.values()]


ROUTES = [
    Route("/v1/devboxes", create, methods=["POST"]),
    Route("/v1/devboxes", list_devboxes, methods=["GET"]),
    Route("/v1/devboxes/create_and_await_running", create_and_await_running, methods=["POST"]),
    *metadata_routes("/v1/devboxes", _live_metadata),
    Route("/v1/devboxes/{id}", retrieve, methods=["GET"]),
    Route("/v1/devboxes/{id}", update, methods=["POST"]),
    Route("/v1/devboxes/{id}/shutdown", shutdown, methods=["POST"]),
    Route("/v1/devboxes/{id}/suspend", suspend, methods=["POST"]),
    Route("/v1/devboxes/{id}/resume", resume, methods=["POST"]),
    Route("/v1/devboxes/{id}/keep_alive", keep_alive, methods=["POST"]),
    Route("/v1/devboxes/{id}/wait_for_status", wait_for_status, methods=["POST"]),
]
