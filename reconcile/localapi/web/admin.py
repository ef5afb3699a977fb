"""Test controls under /_local/ (never /v1/): reset, clock, speed, faults, info and bulk seeding.

Every control takes and returns JSON and needs the API token like /v1/ does. Changed settings last
until the server stops or /_local/reset; the constructor's LocalConfig is where they start.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconcile.localapi.services import Services
from reconcile.localapi.state.problems import Invalid
from reconcile.localapi.state.records import (
    DEVBOX_STATUSES,
    OBJECT_CONTENT_TYPES,
    OBJECT_TRANSITIONS,
    SNAPSHOT_TRANSITIONS,
    Devbox,
    Snapshot,
    StoredObject,
)
from reconcile.localapi.web.routes.common import ok, services
from reconcile.localapi.web.routes.params import Body, read_body
from reconcile.localapi.web.views import launch_parameters

VERSION = "0.1.0"
SEED_LIMIT = 100_000


async def reset(request: Request) -> Response:
    await read_body(request)
    await services(request).reset()
    return ok({"reset": True})


def _clock(svc: Services) -> dict[str, Any]:
    b = svc.backend
    return {"offset_seconds": b.settings.clock_offset_seconds, "now_ms": b.now_ms()}


async def clock(request: Request) -> Response:
    """POST {"offset_seconds": s} sets the offset added to now; {"advance_seconds": s} adds."""
    svc = services(request)
    if request.method == "POST":
        body = await read_body(request, ("offset_seconds", "advance_seconds"))
        settings = svc.backend.settings
        if (offset := body.number("offset_seconds")) is not None:
            settings.clock_offset_seconds = offset
        if (advance := body.number("advance_seconds")) is not None:
            settings.clock_offset_seconds += advance
    return ok(_clock(svc))


async def speed(request: Request) -> Response:
    svc = services(request)
    settings = svc.backend.settings
    if request.method == "POST":
        body = await read_body(request, ("transition_seconds", "snapshot_extra_seconds"))
        for field in ("transition_seconds", "snapshot_extra_seconds"):
            value = body.number(field)
            if value is not None:
                if value < 0 or value > 600:
                    raise Invalid(f"{field}: must be between 0 and 600")
                setattr(settings, field, value)
    return ok(
        {
            "transition_seconds": settings.transition_seconds,
            "snapshot_extra_seconds": settings.snapshot_extra_seconds,
        }
    )


async def faults(request: Request) -> Response:
    """Partial update: only the given settings change."""
    svc = services(request)
    current = svc.backend.settings.faults
    if request.method == "POST":
        fields = [f.name for f in dataclasses.fields(current)]
        body = await read_body(request, fields)
        for rate in ("rate", "drop_rate", "lost_answer_rate", "snapshot_error_rate"):
            value = body.number(rate)
            if value is not None:
                if not 0.0 <= value <= 1.0:
                    raise Invalid(f"{rate}: must be between 0 and 1")
                setattr(current, rate, value)
        if body.has("statuses"):
            statuses = body.raw("statuses")
            if (
                not isinstance(statuses, list)
                or not statuses
                or not all(isinstance(s, int) and 400 <= s <= 599 for s in statuses)
            ):
                raise Invalid("statuses: must be a non-empty list of HTTP error statuses")
            current.statuses = list(statuses)
        if "retry_after" in body.data:
            current.retry_after = body.number("retry_after")
        for limit in ("rate_limit", "rate_limit_burst"):
            if limit in body.data:
                setattr(current, limit, _positive_or_none(body, limit))
        if (latency := body.integer("latency_ms", minimum=0)) is not None:
            current.latency_ms = latency
        if "seed" in body.data:
            current.seed = body.integer("seed")
            request.app.state.fault_dice.seed(current.seed)
            svc.snapshots.reseed(current.seed)
    return ok(dataclasses.asdict(current))


def _positive_or_none(body: Body, name: str) -> float | None:
    """A rate-limit setting: a positive number, or null (or 0) for none."""
    value = body.number(name)
    if value is None or value == 0:
        return None
    if value < 0:
        raise Invalid(f"{name}: must be positive (or 0 / null for no limit)")
    return value


async def info(request: Request) -> Response:
    svc = services(request)
    return ok(
        {
            "sandbox_mode": svc.backend.sandbox.mode,
            "version": VERSION,
            "data_dir": str(svc.config.data_dir),
            "counts": svc.backend.counts(),
        }
    )


async def seed(request: Request) -> Response:
    """Bulk records without disks (for listing benchmarks); seeded snapshots have no image."""
    svc = services(request)
    body = await read_body(request, ("devboxes", "objects", "snapshots"))
    made: dict[str, list[Any]] = {"devboxes": [], "objects": [], "snapshots": []}
    for kind, build in (
        ("devboxes", _seed_devbox),
        ("objects", _seed_object),
        ("snapshots", _seed_snapshot),
    ):
        items = body.objects(kind) or []
        if len(items) > SEED_LIMIT:
            raise Invalid(f"{kind}: at most {SEED_LIMIT} records per call")
        made[kind] = [build(svc, item) for item in items]
    for records in made.values():
        svc.backend.save_many(records)
    return ok({kind: [r.id for r in records] for kind, records in made.items()})


def _time(svc: Services, item: Body) -> int:
    value = item.integer("create_time_ms", minimum=0)
    return svc.backend.now_ms() if value is None else value


def _seed_devbox(svc: Services, item: Body) -> Devbox:
    created = _time(svc, item)
    status = item.enum("status", DEVBOX_STATUSES) or "running"
    final = status in ("shutdown", "failure")
    return Devbox(
        id=svc.backend.new_id("devbox", created),
        create_time_ms=created,
        status=status,
        name=item.text("name"),
        metadata=item.str_map("metadata") or {},
        launch_parameters=launch_parameters(None),
        state_transitions=[{"status": status, "transition_time_ms": created}],
        end_time_ms=created if final else None,
        failure_reason="execution_failed" if status == "failure" else None,
        shutdown_reason="api_shutdown" if status == "shutdown" else None,
        seeded=True,
    )


def _seed_object(svc: Services, item: Body) -> StoredObject:
    created = _time(svc, item)
    state = item.enum("state", OBJECT_TRANSITIONS) or "READ_ONLY"
    return StoredObject(
        id=svc.backend.new_id("object", created),
        name=item.req_text("name"),
        content_type=item.enum("content_type", OBJECT_CONTENT_TYPES) or "unspecified",
        create_time_ms=created,
        state=state,
        size_bytes=0 if state == "READ_ONLY" else None,
        metadata=item.str_map("metadata") or {},
        seeded=True,
    )


def _seed_snapshot(svc: Services, item: Body) -> Snapshot:
    created = _time(svc, item)
    status = item.enum("status", SNAPSHOT_TRANSITIONS) or "complete"
    return Snapshot(
        id=svc.backend.new_id("snapshot", created),
        source_devbox_id=item.req_text("source_devbox_id"),
        create_time_ms=created,
        status=status,
        name=item.text("name"),
        metadata=item.str_map("metadata") or {},
        commit_message=item.text("commit_message"),
        size_bytes=0,
        error_message="seeded as failed" if status == "error" else None,
        seeded=True,
    )


ROUTES = [
    Route("/_local/reset", reset, methods=["POST"]),
    Route("/_local/clock", clock, methods=["GET", "POST"]),
    Route("/_local/speed", speed, methods=["GET", "POST"]),
    Route("/_local/faults", faults, methods=["GET", "POST"]),
    Route("/_local/info", info, methods=["GET"]),
    Route("/_local/seed", seed, methods=["POST"]),
]
