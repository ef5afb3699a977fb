"""The local server's resource routes in match order, one list for the app and its tests."""

from __future__ import annotations

from starlette.routing import BaseRoute

from reconcile.localapi.web.routes import (
    blueprints,
    devbox_logs,
    devboxes,
    disk_snapshots,
    executions,
    files,
    objects,
    public,
    unsupported,
)

REFUSED: tuple[BaseRoute, ...] = tuple(unsupported.ROUTES)
"""Whole resources the server answers with a clear refusal (not emulated)."""

STORAGE: tuple[BaseRoute, ...] = tuple(objects.STORAGE_ROUTES)
"""The signed-URL object upload and download routes (not under /v1/)."""


def resource_routes() -> list[BaseRoute]:
    """Every resource route, refusals and storage included, in the order they must match."""
    return [
        *public.ROUTES,  # first: /v1/objects/list_public and the like are not ids
        *REFUSED,
        *disk_snapshots.ROUTES,  # before devboxes: /v1/devboxes/disk_snapshots is not a devbox id
        *executions.ROUTES,
        *files.ROUTES,
        *devboxes.ROUTES,
        *devbox_logs.ROUTES,
        *objects.ROUTES,
        *STORAGE,
        *blueprints.ROUTES,
    ]
