"""Turns a devbox create body into a Devbox record (validation, image source, mounts); no I/O."""

from __future__ import annotations

from typing import Any

from reconcile.localapi.disk import DiskError
from reconcile.localapi.disk.paths import devbox_parts
from reconcile.localapi.services import Services
from reconcile.localapi.state.problems import Invalid
from reconcile.localapi.state.records import Devbox
from reconcile.localapi.web.routes.params import Body
from reconcile.localapi.web.views import launch_parameters
from reconcile.localapi.workers.builds import BUILDING

CREATE_FIELDS = (
    "name",
    "environment_variables",
    "secrets",
    "file_mounts",
    "entrypoint",
    "blueprint_id",
    "blueprint_name",
    "repo_connection_id",
    "launch_parameters",
    "snapshot_id",
    "metadata",
    "code_mounts",
    "mounts",
    "tunnel",
    "gateways",
    "mcp",
)
NOT_EMULATED = ("secrets", "repo_connection_id", "code_mounts", "tunnel", "gateways", "mcp")
RESOURCE_SIZES = ("X_SMALL", "SMALL", "MEDIUM", "LARGE", "X_LARGE", "XX_LARGE", "CUSTOM_SIZE")
ARCHITECTURES = ("x86_64", "arm64")
IDLE_ACTIONS = ("shutdown", "suspend")
LIFECYCLE_FIELDS = ("after_idle", "resume_triggers", "lifecycle_hooks")
INT32 = 2**31 - 1  # the spec's int32 fields echo back; a larger value would break the view


def devbox_from_body(body: Body, svc: Services) -> Devbox:
    b = svc.backend
    for field in NOT_EMULATED:
        if body.raw(field):
            raise Invalid(f"{field}: not supported by the local server")
    devbox_id = b.new_id("devbox")
    blueprint_id, snapshot_id, inherited = _image_source(body, svc)
    launch = parse_launch_parameters(body.obj("launch_parameters"))
    dbx = Devbox(
        id=devbox_id,
        create_time_ms=b.now_ms(),
        name=body.text("name"),
        blueprint_id=blueprint_id,
        snapshot_id=snapshot_id,
        metadata=body.str_map("metadata") or {},
        launch_parameters=launch_parameters({**inherited, **launch}),
        environment_variables=body.str_map("environment_variables") or {},
        file_mounts=body.str_map("file_mounts") or {},
        mounts=_mounts(body.objects("mounts") or [], svc),
        entrypoint=body.text("entrypoint"),
    )
    for path in dbx.file_mounts:
        _check_path(svc, devbox_id, f"file_mounts[{path!r}]", path)
    for i, mount in enumerate(dbx.mounts):
        field = "object_path" if mount["type"] == "object_mount" else "target"
        _check_path(svc, devbox_id, f"mounts[{i}].{field}", str(mount[field]))
    return dbx


def _image_source(body: Body, svc: Services) -> tuple[str | None, str | None, dict[str, Any]]:
    """(blueprint_id, snapshot_id, launch parameters inherited from the blueprint)."""
    given = [f for f in ("blueprint_id", "blueprint_name", "snapshot_id") if body.has(f)]
    if len(given) > 1:
        raise Invalid(f"{given[1]}: give at most one of blueprint_id, blueprint_name, snapshot_id")
    b = svc.backend
    if snapshot_id := body.text("snapshot_id"):
        snp = b.snapshots.get(snapshot_id)
        if snp is None or snp.status in ("deleted", "error") or snp.seeded:
            raise Invalid(f"snapshot_id: no usable snapshot {snapshot_id}")
        return None, snapshot_id, {}
    bpt = None
    usable = ("build_complete", *BUILDING)  # one still building: the devbox waits for it
    if blueprint_id := body.text("blueprint_id"):
        bpt = b.blueprints.get(blueprint_id)
        if bpt is None or bpt.state != "created" or bpt.status not in usable:
            raise Invalid(f"blueprint_id: no built or building blueprint {blueprint_id}")
    elif blueprint_name := body.text("blueprint_name"):
        bpt = svc.builds.newest_usable(blueprint_name)
        if bpt is None:
            raise Invalid(f"blueprint_name: no built or building blueprint {blueprint_name!r}")
    if bpt is None:
        return None, None, {}
    inherited = {
        k: v for k, v in (bpt.parameters.get("launch_parameters") or {}).items() if v is not None
    }
    return bpt.id, None, inherited


def parse_launch_parameters(body: Body | None) -> dict[str, Any]:
    if body is None:
        return {}
    checked: dict[str, Any] = {
        "launch_commands": body.str_list("launch_commands"),
        "resource_size_request": body.enum("resource_size_request", RESOURCE_SIZES),
        "keep_alive_time_seconds": body.integer("keep_alive_time_seconds", minimum=0),
        "architecture": body.enum("architecture", ARCHITECTURES),
        "custom_cpu_cores": body.number("custom_cpu_cores"),
        "custom_gb_memory": body.integer("custom_gb_memory", minimum=0, maximum=INT32),
        "custom_disk_size": body.integer("custom_disk_size", minimum=0, maximum=INT32),
        "required_services": body.str_list("required_services"),
        "network_policy_id": body.text("network_policy_id"),
    }
    if (idle := body.obj("after_idle")) is not None:
        checked["after_idle"] = _after_idle(idle)
    if (user := body.obj("user_parameters", ("username", "uid"))) is not None:
        checked["user_parameters"] = _user(user)
    if (life := body.obj("lifecycle", LIFECYCLE_FIELDS)) is not None:
        checked["lifecycle"] = _lifecycle(life)
    checked["available_ports"] = _ports(body)
    if isinstance(cores := checked["custom_cpu_cores"], float) and cores.is_integer():
        checked["custom_cpu_cores"] = int(cores)
    return {k: v for k, v in checked.items() if v is not None}


def _after_idle(idle: Body) -> dict[str, Any]:
    seconds = idle.integer("idle_time_seconds", minimum=0, maximum=INT32)
    if seconds is None:
        raise Invalid(f"{idle.where}.idle_time_seconds: required")
    return {
        "idle_time_seconds": seconds,
        "on_idle": idle.enum("on_idle", IDLE_ACTIONS, required=True),
    }


# The fields below are echoed back but not emulated; checked so the echo keeps the spec's shape.


def _user(user: Body) -> dict[str, Any]:
    uid = user.integer("uid", minimum=0, maximum=INT32)
    if uid is None:
        raise Invalid(f"{user.where}.uid: required")
    return {"username": user.req_text("username"), "uid": uid}


def _lifecycle(life: Body) -> dict[str, Any]:
    """Spec: after_idle, resume_triggers; SDK 3.0 adds lifecycle_hooks."""
    checked: dict[str, Any] = {}
    if (idle := life.obj("after_idle")) is not None:
        checked["after_idle"] = _after_idle(idle)
    if (triggers := life.obj("resume_triggers", ("http", "axon_event"))) is not None:
        flags = {k: triggers.boolean(k) for k in ("http", "axon_event")}
        checked["resume_triggers"] = {k: v for k, v in flags.items() if v is not None}
    hooks = life.obj("lifecycle_hooks", ("suspend_commands", "suspend_deadline_ms"))
    if hooks is not None:
        given = {
            "suspend_commands": hooks.str_list("suspend_commands"),
            "suspend_deadline_ms": hooks.integer("suspend_deadline_ms", minimum=0, maximum=INT32),
        }
        checked["lifecycle_hooks"] = {k: v for k, v in given.items() if v is not None}
    return checked


def _ports(body: Body) -> list[int] | None:
    ports = body.raw("available_ports")
    if ports is None:
        return None
    if not isinstance(ports, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 65535 for p in ports
    ):
        raise Invalid(f"{body.where}.available_ports: must be a list of port numbers")
    return ports


def _mounts(items: list[Body], svc: Services) -> list[dict[str, Any]]:
    mounts = []
    for item in items:
        kind = item.text("type") or "object_mount"
        if kind == "object_mount":
            object_id = item.req_text("object_id")
            obj = svc.backend.objects.get(object_id)
            if obj is None or obj.state != "READ_ONLY":
                raise Invalid(f"{item.where}.object_id: no completed object {object_id}")
            mounts.append(
                {"type": kind, "object_id": object_id, "object_path": item.req_text("object_path")}
            )
        elif kind == "file_mount":
            mounts.append(
                {
                    "type": kind,
                    "target": item.req_text("target"),
                    "content": item.req_text("content"),
                }
            )
        else:
            raise Invalid(f"{item.where}.type: {kind} is not supported by the local server")
    return mounts


def _check_path(svc: Services, devbox_id: str, field: str, path: str) -> None:
    try:
        devbox_parts(path)
    except DiskError as exc:
        raise Invalid(f"{field}: {exc}") from None
