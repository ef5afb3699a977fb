"""Records → the JSON views of the Runloop API (names, shapes as in the OpenAPI schemas); pure."""

from __future__ import annotations

from typing import Any

from reconcile.localapi.state.records import Blueprint, Devbox, Snapshot, StoredObject

JSON = dict[str, Any]
LAUNCH_FIELDS = (
    "launch_commands",
    "resource_size_request",
    "available_ports",
    "keep_alive_time_seconds",
    "after_idle",
    "custom_cpu_cores",
    "custom_gb_memory",
    "custom_disk_size",
    "architecture",
    "user_parameters",
    "required_services",
    "network_policy_id",
    "lifecycle",
)
LAUNCH_DEFAULTS: JSON = {
    "resource_size_request": "SMALL",
    "keep_alive_time_seconds": 3600,
    "architecture": "x86_64",
}


def compact(view: JSON, keep: tuple[str, ...] = ()) -> JSON:
    """Drop absent (None) optional fields: the spec puts `nullable` beside `$ref`, which
    OpenAPI 3.0 ignores, so a strict validator refuses null there. `keep`: required fields."""
    return {k: v for k, v in view.items() if v is not None or k in keep}


def launch_parameters(given: JSON | None) -> JSON:
    """The echoed launch parameters: what was asked, with the server's defaults filled in."""
    given = given or {}
    echoed: JSON = {"launch_commands": given.get("launch_commands")}
    for name in LAUNCH_FIELDS:
        if given.get(name) is not None:
            echoed[name] = given[name]
    for name, value in LAUNCH_DEFAULTS.items():
        if echoed.get(name) is None:
            echoed[name] = value
    return echoed


def devbox_view(dbx: Devbox) -> JSON:
    return compact(
        {
            "id": dbx.id,
            "name": dbx.name,
            "status": dbx.status,
            "create_time_ms": dbx.create_time_ms,
            "end_time_ms": dbx.end_time_ms,
            "initiator_type": "api",
            "initiator_id": None,
            "blueprint_id": dbx.blueprint_id,
            "snapshot_id": dbx.snapshot_id,
            "metadata": dict(dbx.metadata),
            "failure_reason": dbx.failure_reason if dbx.status == "failure" else None,
            "shutdown_reason": dbx.shutdown_reason if dbx.status == "shutdown" else None,
            "launch_parameters": dbx.launch_parameters,
            "capabilities": [],
            "state_transitions": [
                {"status": t["status"], "transition_time_ms": int(t["transition_time_ms"])}
                for t in dbx.state_transitions
            ],
        },
        keep=("end_time_ms",),
    )


def snapshot_view(snp: Snapshot) -> JSON:
    return compact(
        {
            "id": snp.id,
            "name": snp.name,
            "create_time_ms": snp.create_time_ms,
            "metadata": dict(snp.metadata),
            "source_devbox_id": snp.source_devbox_id,
            "source_blueprint_id": snp.source_blueprint_id,
            "commit_message": snp.commit_message,
            "size_bytes": snp.size_bytes,
        }
    )


def snapshot_status_view(snp: Snapshot) -> JSON:
    view: JSON = {"status": snp.status}
    if snp.status != "deleted":
        view["snapshot"] = snapshot_view(snp)
    if snp.status == "error":
        view["error_message"] = snp.error_message or "snapshot failed"
    return view


def object_view(obj: StoredObject, upload_url: str | None = None) -> JSON:
    view: JSON = compact(
        {
            "id": obj.id,
            "name": obj.name,
            "state": obj.state,
            "size_bytes": obj.size_bytes,
            "content_type": obj.content_type,
            "create_time_ms": obj.create_time_ms,
            "delete_after_time_ms": obj.delete_after_time_ms,
            "metadata": dict(obj.metadata),
        }
    )
    if upload_url is not None:
        view["upload_url"] = upload_url
    return view


def blueprint_view(bpt: Blueprint) -> JSON:
    return compact(
        {
            "id": bpt.id,
            "name": bpt.name,
            "status": bpt.status,
            "state": bpt.state,
            "create_time_ms": bpt.create_time_ms,
            "build_finish_time_ms": bpt.build_finish_time_ms,
            "parameters": bpt.parameters,
            "failure_reason": bpt.failure_reason,
            "base_blueprint_id": bpt.base_blueprint_id,
            "is_public": False,
            "metadata": bpt.metadata,
        }
    )


# vCPUs, memory GiB, disk GiB of each ResourceSize (CUSTOM_SIZE takes the custom_* fields).
RESOURCE_SIZES: dict[str, tuple[float, int, int]] = {
    "X_SMALL": (0.5, 1, 4),
    "SMALL": (1, 2, 4),
    "MEDIUM": (2, 4, 8),
    "LARGE": (2, 8, 16),
    "X_LARGE": (4, 16, 16),
    "XX_LARGE": (8, 32, 16),
}


def _resources(launch: JSON) -> tuple[float, int, int]:
    size = str(launch.get("resource_size_request") or "SMALL")
    cpu, memory, disk = RESOURCE_SIZES.get(size, RESOURCE_SIZES["SMALL"])
    if size == "CUSTOM_SIZE":
        cpu = float(launch.get("custom_cpu_cores") or cpu)
        memory = int(launch.get("custom_gb_memory") or memory)
        disk = int(launch.get("custom_disk_size") or disk)
    return cpu, memory, disk


def usage_view(dbx: Devbox, now_ms: int) -> JSON:
    """DevboxResourceUsageView: elapsed time from creation to the end (or now); active time
    leaves out the time spent suspended; CPU and memory count active time, disk all of it."""
    end_ms = dbx.end_time_ms if dbx.end_time_ms is not None else max(now_ms, dbx.create_time_ms)
    suspended_ms = 0
    moves = [(t["status"], int(t["transition_time_ms"])) for t in dbx.state_transitions]
    for (status, start), (_, stop) in zip(moves, [*moves[1:], ("", end_ms)], strict=True):
        if status == "suspended":
            suspended_ms += max(0, min(stop, end_ms) - start)
    elapsed = max(0, end_ms - dbx.create_time_ms) // 1000
    active = max(0, end_ms - dbx.create_time_ms - suspended_ms) // 1000
    cpu, memory, disk = _resources(dbx.launch_parameters)
    return compact(
        {
            "id": dbx.id,
            "status": dbx.status,
            "start_time_ms": dbx.create_time_ms,
            "end_time_ms": dbx.end_time_ms,
            "total_elapsed_seconds": elapsed,
            "total_active_seconds": active,
            "vcpu_seconds": int(active * cpu),
            "memory_gb_seconds": active * memory,
            "disk_gb_seconds": elapsed * disk,
        }
    )
