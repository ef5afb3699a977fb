"""Disk snapshot, storage object and blueprint endpoints of the Runloop API; no policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from reconcile.api.base import EndpointGroup, drop_none
from reconcile.api.http import Call
from reconcile.api.models import (
    Blueprint,
    BlueprintLogs,
    BlueprintPage,
    DownloadUrl,
    ObjectPage,
    Snapshot,
    SnapshotPage,
    SnapshotStatus,
    StorageObject,
)
from reconcile.api.retry import RetryPolicy
from reconcile.api.waiting import poll_blueprint, poll_snapshot

SNAPSHOTS = "/v1/devboxes/disk_snapshots"
SNAPSHOT = SNAPSHOTS + "/{id}"
OBJECT = "/v1/objects/{id}"
UPLOAD_TIMEOUT = httpx.Timeout(600.0, connect=10.0, pool=None)


def snapshot_filters(
    devbox_id: str | None,
    metadata: Mapping[str, str] | None,
    metadata_in: Mapping[str, Sequence[str]] | None,
) -> dict[str, str]:
    """Query parameters for a server-side snapshot filter (`metadata[k]`, `metadata[k][in]`)."""
    params = {"devbox_id": devbox_id} if devbox_id is not None else {}
    for key, value in (metadata or {}).items():
        params[f"metadata[{key}]"] = value
    for key, values in (metadata_in or {}).items():
        if any("," in value for value in values):
            raise ValueError(f"metadata[{key}][in] values cannot contain commas")
        params[f"metadata[{key}][in]"] = ",".join(values)
    return params


class StorageEndpoints(EndpointGroup):
    """Disk snapshots, storage objects (with presigned upload) and blueprints."""

    async def snapshot_disk_async(
        self,
        devbox_id: str,
        *,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        commit_message: str | None = None,
        request_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Snapshot:
        body = drop_none(
            name=name,
            metadata=dict(metadata) if metadata is not None else None,
            commit_message=commit_message,
        )
        route = "/v1/devboxes/{id}/snapshot_disk_async"
        call = Call("POST", route, {"id": devbox_id}, body=body, request_id=request_id, retry=retry)
        return await self._http.send_model(call, Snapshot)

    async def get_snapshot_status(self, snapshot_id: str) -> SnapshotStatus:
        call = Call("GET", SNAPSHOT + "/status", {"id": snapshot_id})
        return await self._http.send_model(call, SnapshotStatus)

    async def wait_for_snapshot(self, snapshot_id: str, *, timeout: float) -> SnapshotStatus:
        """The status once complete, error or deleted (callers check it); ApiTimeoutError after
        `timeout` seconds."""
        return await poll_snapshot(self._http, snapshot_id, timeout=timeout)

    async def list_snapshots(
        self,
        *,
        devbox_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        metadata_in: Mapping[str, Sequence[str]] | None = None,
    ) -> list[Snapshot]:
        """All snapshots matching every filter (`metadata_in` values OR within a key)."""
        params = snapshot_filters(devbox_id, metadata, metadata_in)
        return await self._list_all(SNAPSHOTS, SnapshotPage, lambda p: p.snapshots, params)

    async def update_snapshot(
        self, snapshot_id: str, *, name: str | None, metadata: Mapping[str, str]
    ) -> Snapshot:
        """Writes the snapshot's `name` and whole `metadata` map. The API documents the update
        as a replace, so callers pass the name the snapshot has (None: it has none) with every
        update: an omitted one might be cleared. Both are required for that reason."""
        return await self._update_name_and_metadata(
            SNAPSHOT, snapshot_id, Snapshot, name=name, metadata=metadata
        )

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._http.send(Call("POST", SNAPSHOT + "/delete", {"id": snapshot_id}))

    async def create_object(
        self,
        *,
        name: str,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        ttl_ms: int | None = None,
        request_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> StorageObject:
        """A new object in state UPLOADING, with its presigned `upload_url`/`upload_headers`."""
        body = drop_none(
            name=name,
            content_type=content_type,
            metadata=dict(metadata) if metadata is not None else None,
            ttl_ms=ttl_ms,
        )
        call = Call("POST", "/v1/objects", body=body, request_id=request_id, retry=retry)
        return await self._http.send_model(call, StorageObject)

    async def upload_object_bytes(
        self, upload_url: str, data: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        """PUTs `data` to a presigned URL: no Authorization header, only `headers`; retried."""
        call = Call(
            "PUT",
            "{upload_url}",
            url=upload_url,
            content=data,
            headers=dict(headers or {}),
            timeout=UPLOAD_TIMEOUT,
        )
        await self._http.send(call)

    async def complete_object(self, object_id: str) -> StorageObject:
        call = Call("POST", OBJECT + "/complete", {"id": object_id})
        return await self._http.send_model(call, StorageObject)

    async def get_object(self, object_id: str) -> StorageObject:
        return await self._http.send_model(Call("GET", OBJECT, {"id": object_id}), StorageObject)

    async def list_objects(
        self, *, name: str | None = None, state: str | None = None
    ) -> list[StorageObject]:
        """All objects; `name` is a partial match on the server."""
        params = {k: v for k, v in (("name", name), ("state", state)) if v is not None}
        return await self._list_all("/v1/objects", ObjectPage, lambda p: p.objects, params)

    async def object_download_url(self, object_id: str, *, duration_seconds: int = 3600) -> str:
        params = {"duration_seconds": str(duration_seconds)}
        call = Call("GET", OBJECT + "/download", {"id": object_id}, params=params)
        return (await self._http.send_model(call, DownloadUrl)).download_url

    async def download_object_bytes(self, download_url: str) -> bytes:
        """GETs an object's bytes from its presigned download URL (no Authorization header)."""
        call = Call("GET", "{download_url}", url=download_url, timeout=UPLOAD_TIMEOUT)
        return (await self._http.send(call)).content

    async def delete_object(self, object_id: str) -> None:
        await self._http.send(Call("POST", OBJECT + "/delete", {"id": object_id}))

    async def create_blueprint(
        self,
        body: Mapping[str, Any],
        *,
        request_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Blueprint:
        """Starts a blueprint build (BlueprintBuildParameters); see wait_for_blueprint."""
        call = Call("POST", "/v1/blueprints", body=dict(body), request_id=request_id, retry=retry)
        return await self._http.send_model(call, Blueprint)

    async def wait_for_blueprint(self, blueprint_id: str, *, timeout: float) -> Blueprint:
        """The blueprint once build_complete or failed (callers check); else ApiTimeoutError."""
        return await poll_blueprint(self._http, blueprint_id, timeout=timeout)

    async def list_blueprints(self, *, name: str | None = None) -> list[Blueprint]:
        params = {"name": name} if name is not None else None
        return await self._list_all("/v1/blueprints", BlueprintPage, lambda p: p.blueprints, params)

    async def get_blueprint(self, blueprint_id: str) -> Blueprint:
        call = Call("GET", "/v1/blueprints/{id}", {"id": blueprint_id})
        return await self._http.send_model(call, Blueprint)

    async def blueprint_logs(self, blueprint_id: str) -> list[str]:
        """The build log's lines, oldest first."""
        call = Call("GET", "/v1/blueprints/{id}/logs", {"id": blueprint_id})
        return [line.message for line in (await self._http.send_model(call, BlueprintLogs)).logs]

    async def delete_blueprint(self, blueprint_id: str) -> None:
        await self._http.send(Call("POST", "/v1/blueprints/{id}/delete", {"id": blueprint_id}))
