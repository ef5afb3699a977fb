"""Routes for the public catalogues (Runloop's shared blueprints, snapshots and objects): the local
server has none, so every listing is empty. Nothing here reads or changes records."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconcile.localapi.web.routes.common import ok

_LISTS = {
    "/v1/blueprints/list_public": "blueprints",
    "/v1/devboxes/disk_snapshots/list_public": "snapshots",
    "/v1/objects/list_public": "objects",
}
_METADATA = ("/v1/blueprints/public/metadata", "/v1/devboxes/disk_snapshots/public/metadata")


async def empty_list(request: Request) -> Response:
    return ok({_LISTS[request.url.path]: [], "has_more": False, "total_count": 0})


async def no_keys(request: Request) -> Response:
    return ok({"keys": []})


async def no_values(request: Request) -> Response:
    return ok({"key": request.path_params["key"], "values": []})


ROUTES = [
    *(Route(path, empty_list, methods=["GET"]) for path in _LISTS),
    *(Route(f"{base}/keys", no_keys, methods=["GET"]) for base in _METADATA),
    *(Route(f"{base}/keys/{{key}}/values", no_values, methods=["GET"]) for base in _METADATA),
]
