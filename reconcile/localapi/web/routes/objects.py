"""Routes for /v1/objects (create, list, retrieve, complete, download URL, delete, metadata keys)
and the signed /_storage/ URLs that take the bytes (PUT) and give them back (GET) without an API
key."""

from __future__ import annotations

import asyncio
import os

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from reconcile.localapi.signing import STORAGE_PREFIX
from reconcile.localapi.state.problems import Conflict, Invalid, NotFound, Problem
from reconcile.localapi.state.records import OBJECT_CONTENT_TYPES, OBJECT_STATES, StoredObject
from reconcile.localapi.web.routes.common import list_page, metadata_routes, ok, services
from reconcile.localapi.web.routes.params import (
    query_enum,
    query_int,
    query_str,
    read_body,
)
from reconcile.localapi.web.views import object_view

UPLOAD_URL_SECONDS = 3600
DEFAULT_DOWNLOAD_SECONDS = 3600


class Forbidden(Problem):
    status = 403


def _base_url(request: Request) -> str:
    return str(request.base_url)


async def create(request: Request) -> Response:
    svc = services(request)
    body = await read_body(request, ("name", "content_type", "metadata", "ttl_ms"))
    name = body.req_text("name")
    content_type = body.enum("content_type", OBJECT_CONTENT_TYPES, required=True)
    ttl_ms = body.integer("ttl_ms", minimum=1)
    now = svc.backend.now_ms()
    obj = StoredObject(
        id=svc.backend.new_id("object"),
        name=name,
        content_type=str(content_type),
        create_time_ms=now,
        delete_after_time_ms=now + ttl_ms if ttl_ms else None,
        metadata=body.str_map("metadata") or {},
    )
    svc.backend.save(obj)
    upload_url = svc.signer.url(_base_url(request), "PUT", obj.id, UPLOAD_URL_SECONDS)
    return ok(object_view(obj, upload_url))


async def list_objects(request: Request) -> Response:
    b = services(request).backend
    name = query_str(request, "name")
    content_type = query_enum(request, "content_type", OBJECT_CONTENT_TYPES)
    state = query_enum(request, "state", OBJECT_STATES)
    search = query_str(request, "search")

    def keep(obj: StoredObject) -> bool:
        if obj.state == "DELETED" and state != "DELETED":
            return False
        if name is not None and name not in obj.name:
            return False
        if content_type is not None and obj.content_type != content_type:
            return False
        if state is not None and obj.state != state:
            return False
        return search is None or search == obj.id or search in obj.name

    return list_page(
        request,
        b.objects.values(),
        field="objects",
        prefix="obj_",
        view=object_view,
        keep=keep,
    )


def _object(request: Request) -> StoredObject:
    return services(request).backend.object(request.path_params["id"])


async def retrieve(request: Request) -> Response:
    return ok(object_view(_object(request)))


async def complete(request: Request) -> Response:
    """UPLOADING → READ_ONLY; without an upload the object is empty (size 0)."""
    svc = services(request)
    obj = _object(request)
    await read_body(request)
    if obj.state != "UPLOADING":
        raise Conflict(
            f"object {obj.id} is {obj.state}; only an UPLOADING object can be completed",
            permanent=True,
        )
    blob = svc.store.object_path(obj.id)
    if not blob.exists():
        blob.write_bytes(b"")
    obj.size_bytes = blob.stat().st_size
    svc.backend.move_object(obj, "READ_ONLY")
    return ok(object_view(obj))


async def download(request: Request) -> Response:
    """A signed GET URL. A deleted object is a 400 (the spec: "Object is in deleted state"), not
    the 404 of an id that never existed."""
    svc = services(request)
    obj = svc.backend.objects.get(request.path_params["id"]) or _object(request)
    seconds = query_int(request, "duration_seconds", minimum=1) or DEFAULT_DOWNLOAD_SECONDS
    if obj.state != "READ_ONLY":
        raise Invalid(f"object {obj.id} is {obj.state}; only a completed object can be downloaded")
    return ok({"download_url": svc.signer.url(_base_url(request), "GET", obj.id, seconds)})


async def delete(request: Request) -> Response:
    svc = services(request)
    obj = _object(request)
    await read_body(request)
    svc.backend.move_object(obj, "DELETED")
    await asyncio.to_thread(svc.store.object_path(obj.id).unlink, missing_ok=True)
    return ok(object_view(obj))


def _live_metadata(request: Request) -> list[dict[str, str]]:
    objects = services(request).backend.objects.values()
    return [o.metadata for o in objects if o.state != "DELETED"]


def _signed_object(request: Request, method: str) -> StoredObject:
    svc = services(request)
    object_id = request.path_params["id"]
    why = svc.signer.check(
        method,
        object_id,
        request.query_params.get("expires"),
        request.query_params.get("signature"),
    )
    if why is not None:
        raise Forbidden(f"signed URL refused: {why}")
    obj = svc.backend.objects.get(object_id)
    if obj is None or obj.state == "DELETED":
        raise NotFound(f"object {object_id} not found")
    return obj


async def storage_put(request: Request) -> Response:
    """The presigned upload: raw bytes replace the object's content while it is UPLOADING."""
    svc = services(request)
    obj = _signed_object(request, "PUT")
    if obj.state != "UPLOADING":
        raise Conflict(
            f"object {obj.id} is {obj.state}; its content can no longer change", permanent=True
        )
    target = svc.store.object_path(obj.id)
    partial = target.with_name(target.name + ".part")
    with open(partial, "wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
    os.replace(partial, target)
    return Response(status_code=200)


async def storage_get(request: Request) -> Response:
    svc = services(request)
    obj = _signed_object(request, "GET")
    blob = svc.store.object_path(obj.id)
    if not blob.exists():
        return Response(b"", media_type="application/octet-stream")
    return FileResponse(
        blob, media_type="application/octet-stream", filename=obj.name.split("/")[-1] or obj.id
    )


ROUTES = [
    Route("/v1/objects", create, methods=["POST"]),
    Route("/v1/objects", list_objects, methods=["GET"]),
    *metadata_routes("/v1/objects", _live_metadata),
    Route("/v1/objects/{id}", retrieve, methods=["GET"]),
    Route("/v1/objects/{id}/complete", complete, methods=["POST"]),
    Route("/v1/objects/{id}/download", download, methods=["GET"]),
    Route("/v1/objects/{id}/delete", delete, methods=["POST"]),
]
STORAGE_ROUTES = [
    Route(STORAGE_PREFIX + "{id}", storage_put, methods=["PUT"]),
    Route(STORAGE_PREFIX + "{id}", storage_get, methods=["GET"]),
]
