"""Routes for disk snapshots: snapshot_disk(_async) of a devbox, /v1/devboxes/disk_snapshots/*."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconcile.localapi.state.problems import Invalid, NotFound
from reconcile.localapi.state.records import Snapshot
from reconcile.localapi.web.routes.common import list_page, metadata_routes, ok, services
from reconcile.localapi.web.routes.params import query_str, read_body
from reconcile.localapi.web.views import snapshot_status_view, snapshot_view

REQUEST_FIELDS = ("name", "metadata", "commit_message")
_METADATA_PARAM = re.compile(r"^metadata\[(?P<key>[^\]]+)\](?P<in>\[in\])?$")


async def _take(request: Request, wait: bool) -> Response:
    svc = services(request)
    dbx = svc.backend.devbox(request.path_params["id"])
    body = await read_body(request, REQUEST_FIELDS)
    snp = await svc.snapshots.take(
        dbx,
        name=body.text("name"),
        metadata=body.str_map("metadata") or {},
        commit_message=body.text("commit_message", max_len=1000),
        wait=wait,
    )
    return ok(snapshot_view(snp))


async def snapshot_disk(request: Request) -> Response:
    return await _take(request, wait=True)


async def snapshot_disk_async(request: Request) -> Response:
    return await _take(request, wait=False)


def metadata_filters(request: Request) -> list[tuple[str, set[str]]]:
    """`metadata[k]=v` and `metadata[k][in]=a,b` query parameters as (key, allowed values). Any
    other parameter starting `metadata` is refused: ignoring it would list everything unfiltered."""
    filters = []
    for param, value in request.query_params.multi_items():
        match = _METADATA_PARAM.match(param)
        if match is None and param.startswith("metadata"):
            raise Invalid(f"{param}: use metadata[<key>]=<value> or metadata[<key>][in]=<a>,<b>")
        if match:
            allowed = set(value.split(",")) if match["in"] else {value}
            filters.append((match["key"], allowed))
    return filters


async def list_snapshots(request: Request) -> Response:
    b = services(request).backend
    devbox_id = query_str(request, "devbox_id")
    blueprint_id = query_str(request, "source_blueprint_id")
    filters = metadata_filters(request)
    if (
        devbox_id
        and devbox_id not in b.devboxes
        and not any(s.source_devbox_id == devbox_id for s in b.snapshots.values())
    ):
        raise NotFound(f"devbox {devbox_id} not found")

    def keep(snp: Snapshot) -> bool:
        if snp.status == "deleted":
            return False
        if devbox_id and snp.source_devbox_id != devbox_id:
            return False
        if blueprint_id and snp.source_blueprint_id != blueprint_id:
            return False
        return all(snp.metadata.get(k) in allowed for k, allowed in filters)

    return list_page(
        request,
        b.snapshots.values(),
        field="snapshots",
        prefix="snp_",
        view=snapshot_view,
        keep=keep,
    )


async def update(request: Request) -> Response:
    """A given `metadata` replaces the old one whole (as the API documents); an absent field
    stays (the API does not say whether it keeps an omitted name; rlstate always sends it)."""
    svc = services(request)
    snp = svc.backend.snapshot(request.path_params["id"])
    body = await read_body(request, REQUEST_FIELDS)
    name, metadata = body.text("name"), body.str_map("metadata")
    message = body.text("commit_message", max_len=1000)
    if name is not None:
        snp.name = name or None
    if metadata is not None:
        snp.metadata = metadata
    if message is not None:
        snp.commit_message = message or None
    svc.backend.save(snp)
    return ok(snapshot_view(snp))


async def delete(request: Request) -> Response:
    svc = services(request)
    snp = svc.backend.snapshot(request.path_params["id"])
    await read_body(request)
    svc.snapshots.delete(snp)
    return ok({})


async def status(request: Request) -> Response:
    snp = services(request).backend.snapshot(request.path_params["id"], allow_deleted=True)
    return ok(snapshot_status_view(snp))


def _live_metadata(request: Request) -> list[dict[str, str]]:
    snaps = services(request).backend.snapshots.values()
    return [s.metadata for s in snaps if s.status != "deleted"]


_SNP = "/v1/devboxes/disk_snapshots"
ROUTES = [
    Route("/v1/devboxes/{id}/snapshot_disk", snapshot_disk, methods=["POST"]),
    Route("/v1/devboxes/{id}/snapshot_disk_async", snapshot_disk_async, methods=["POST"]),
    Route(_SNP, list_snapshots, methods=["GET"]),
    *metadata_routes(_SNP, _live_metadata),
    Route(f"{_SNP}/{{id}}", update, methods=["POST"]),
    Route(f"{_SNP}/{{id}}/delete", delete, methods=["POST"]),
    Route(f"{_SNP}/{{id}}/status", status, methods=["GET"]),
]
