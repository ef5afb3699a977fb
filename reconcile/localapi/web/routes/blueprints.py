"""Routes for /v1/blueprints: create (starts an emulated build, see builds.py), preview, list,
retrieve, delete, logs and metadata keys."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconcile.localapi.state.backend import Backend
from reconcile.localapi.state.problems import Invalid, WrongState
from reconcile.localapi.state.records import BLUEPRINT_TRANSITIONS, Blueprint
from reconcile.localapi.web.routes.common import list_page, metadata_routes, ok, services
from reconcile.localapi.web.routes.devbox_create import parse_launch_parameters
from reconcile.localapi.web.routes.params import Body, query_str, read_body
from reconcile.localapi.web.views import blueprint_view

BUILD_FIELDS = (
    "name",
    "dockerfile",
    "system_setup_commands",
    "code_mounts",
    "launch_parameters",
    "file_mounts",
    "base_blueprint_id",
    "base_blueprint_name",
    "services",
    "metadata",
    "build_args",
    "secrets",
    "build_context",
    "network_policy_id",
)
NOT_EMULATED = ("code_mounts", "services", "secrets", "build_context")


def _parameters(body: Body) -> dict[str, Any]:
    for field in NOT_EMULATED:
        if body.raw(field):
            raise Invalid(f"{field}: not supported by the local server")
    params: dict[str, Any] = {
        "name": body.req_text("name"),
        "dockerfile": body.text("dockerfile"),
        "system_setup_commands": body.str_list("system_setup_commands"),
        "file_mounts": body.str_map("file_mounts"),
        "base_blueprint_id": body.text("base_blueprint_id"),
        "base_blueprint_name": body.text("base_blueprint_name"),
        "metadata": body.str_map("metadata"),
        "build_args": body.str_map("build_args"),
        "network_policy_id": body.text("network_policy_id"),
    }
    launch = parse_launch_parameters(body.obj("launch_parameters"))
    params["launch_parameters"] = launch or None
    return {k: v for k, v in params.items() if v is not None}


async def create(request: Request) -> Response:
    svc = services(request)
    body = await read_body(request, BUILD_FIELDS)
    params = _parameters(body)
    bpt = Blueprint(
        id=svc.backend.new_id("blueprint"),
        name=params["name"],
        create_time_ms=svc.backend.now_ms(),
        parameters=params,
        base_blueprint_id=svc.builds.base_of(params),
        metadata=params.get("metadata"),
    )
    return ok(blueprint_view(await svc.builds.start(bpt)))


async def list_blueprints(request: Request) -> Response:
    b = services(request).backend
    name = query_str(request, "name")
    status = query_str(request, "status")
    if status is not None and status not in BLUEPRINT_TRANSITIONS:
        raise Invalid(f"status: must be one of {', '.join(BLUEPRINT_TRANSITIONS)}")

    def keep(bpt: Blueprint) -> bool:
        if bpt.state == "deleted":
            return False
        if name is not None and bpt.name != name:
            return False
        return status is None or bpt.status == status

    return list_page(
        request,
        b.blueprints.values(),
        field="blueprints",
        prefix="bpt_",
        view=blueprint_view,
        keep=keep,
    )


def _blueprint(request: Request) -> Blueprint:
    return services(request).backend.blueprint(request.path_params["id"])


async def retrieve(request: Request) -> Response:
    return ok(blueprint_view(_blueprint(request)))


async def delete(request: Request) -> Response:
    svc = services(request)
    bpt = _blueprint(request)
    await read_body(request)
    users = [
        s.id
        for s in svc.backend.snapshots.values()
        if s.source_blueprint_id == bpt.id and s.status != "deleted"
    ]
    if users:
        raise WrongState(
            f"blueprint {bpt.id} has snapshots derived from it ({', '.join(users[:3])})"
        )
    if bpt.status in ("queued", "provisioning", "building"):
        raise WrongState(f"blueprint {bpt.id} is still building")
    svc.backend.move_blueprint_state(bpt, "deleted")
    svc.backend.spawn(_drop_image(svc.backend, bpt.id))
    return ok({})


async def _drop_image(backend: Backend, image_id: str) -> None:
    await asyncio.to_thread(backend.disks.delete_image, image_id)


async def logs(request: Request) -> Response:
    bpt = _blueprint(request)
    return ok({"blueprint_id": bpt.id, "logs": bpt.logs})


async def preview(request: Request) -> Response:
    """The Dockerfile the build would run: the given one, then each setup command as a RUN line
    (what the local build runs; see builds.py for which instructions it honours)."""
    params = _parameters(await read_body(request, BUILD_FIELDS))
    base = params.get("base_blueprint_name") or params.get("base_blueprint_id")
    lines = [str(params.get("dockerfile") or (f"FROM {base}" if base else "")).strip()]
    lines += [f"RUN {command}" for command in params.get("system_setup_commands") or []]
    return ok({"dockerfile": "\n".join(line for line in lines if line) + "\n"})


def _live_metadata(request: Request) -> list[dict[str, str] | None]:
    blueprints = services(request).backend.blueprints.values()
    return [bp.metadata for bp in blueprints if bp.state != "deleted"]


ROUTES = [
    Route("/v1/blueprints", create, methods=["POST"]),
    Route("/v1/blueprints", list_blueprints, methods=["GET"]),
    Route("/v1/blueprints/preview", preview, methods=["POST"]),
    *metadata_routes("/v1/blueprints", _live_metadata),
    Route("/v1/blueprints/{id}", retrieve, methods=["GET"]),
    Route("/v1/blueprints/{id}/delete", delete, methods=["POST"]),
    Route("/v1/blueprints/{id}/logs", logs, methods=["GET"]),
]
