"""Routes moving files in and out of a running devbox: read/write_file_contents, up/download."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from reconcile.localapi.disk import DiskError
from reconcile.localapi.disk.paths import devbox_parts
from reconcile.localapi.state.problems import Invalid, NotFound, WrongState
from reconcile.localapi.state.records import Devbox
from reconcile.localapi.web.routes.common import ok, services
from reconcile.localapi.web.routes.params import read_body


def _running_devbox(request: Request) -> Devbox:
    dbx = services(request).backend.devbox(request.path_params["id"])
    if dbx.status != "running":
        raise WrongState(f"devbox {dbx.id} is {dbx.status}; file access needs a running devbox")
    return dbx


def _check(field: str, path: str) -> None:
    if not path:
        raise Invalid(f"{field}: required")
    try:
        devbox_parts(path)
    except DiskError as exc:
        raise Invalid(f"{field}: {exc}") from None


async def _read(request: Request, dbx: Devbox, field: str, path: str) -> bytes:
    _check(field, path)
    try:
        return await asyncio.to_thread(services(request).backend.disks.read_file, dbx.id, path)
    except DiskError as exc:
        raise NotFound(f"{field}: {exc}") from None


async def _write(request: Request, dbx: Devbox, field: str, path: str, data: bytes) -> None:
    _check(field, path)
    try:
        await asyncio.to_thread(services(request).backend.disks.write_file, dbx.id, path, data)
    except (DiskError, OSError) as exc:
        raise Invalid(f"{field}: cannot write {path}: {exc}") from None


async def read_file_contents(request: Request) -> Response:
    dbx = _running_devbox(request)
    body = await read_body(request, ("file_path",))
    data = await _read(request, dbx, "file_path", body.req_text("file_path"))
    return PlainTextResponse(data.decode("utf-8", "replace"))


async def write_file_contents(request: Request) -> Response:
    dbx = _running_devbox(request)
    body = await read_body(request, ("file_path", "contents"))
    path = body.req_text("file_path")
    contents = body.text("contents")
    if contents is None:
        raise Invalid("contents: required")
    await _write(request, dbx, "file_path", path, contents.encode())
    return ok(
        {"devbox_id": dbx.id, "stdout": "", "stderr": "", "exit_status": 0, "shell_name": None}
    )


async def upload_file(request: Request) -> Response:
    dbx = _running_devbox(request)
    try:
        form = await request.form()
    except Exception as exc:  # the multipart parser raises several kinds
        raise Invalid(f"body: not a multipart form ({exc})") from None
    try:
        path = form.get("path")
        if not isinstance(path, str) or not path:
            raise Invalid("path: required (a text part)")
        part = form.get("file")
        if isinstance(part, UploadFile):
            data = await part.read()
        elif isinstance(part, str):
            data = part.encode()
        else:
            data = b""
    finally:
        await form.close()
    await _write(request, dbx, "path", path, data)
    return ok({})


async def download_file(request: Request) -> Response:
    dbx = _running_devbox(request)
    body = await read_body(request, ("path",))
    path = body.req_text("path")
    data = await _read(request, dbx, "path", path)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"content-disposition": _attachment(path)},
    )


def _attachment(path: str) -> str:
    """Content-Disposition for a file name: headers are latin-1 and one line, so a plain-ASCII
    `filename` and the exact name percent-encoded in `filename*` (RFC 6266)."""
    name = PurePosixPath(path).name or "download"
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


ROUTES = [
    Route("/v1/devboxes/{id}/read_file_contents", read_file_contents, methods=["POST"]),
    Route("/v1/devboxes/{id}/write_file_contents", write_file_contents, methods=["POST"]),
    Route("/v1/devboxes/{id}/upload_file", upload_file, methods=["POST"]),
    Route("/v1/devboxes/{id}/download_file", download_file, methods=["POST"]),
]
