"""Devbox, execution and file endpoints of the Runloop API; one method per endpoint, no policy."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from reconcile.api.base import EndpointGroup
from reconcile.api.http import Call
from reconcile.api.models import Devbox, DevboxPage, Execution
from reconcile.api.retry import RetryPolicy
from reconcile.api.waiting import devbox_poll, execution_poll, long_poll

DEVBOX = "/v1/devboxes/{id}"
EXECUTION = "/v1/devboxes/{id}/executions/{execution_id}"
EXECUTE_MAX_WAIT = 25.0
FILE_TIMEOUT = httpx.Timeout(120.0, connect=5.0, pool=None)


class DevboxEndpoints(EndpointGroup):
    """Devboxes: create, read, list, update, lifecycle, waits, commands and text files."""

    async def create_devbox(
        self,
        body: Mapping[str, Any],
        *,
        request_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Devbox:
        """Creates a devbox; `retry` overrides the client's policy for this call (e.g. no
        retries, so an ambiguous failure can be looked up before trying again)."""
        call = Call("POST", "/v1/devboxes", body=dict(body), request_id=request_id, retry=retry)
        return await self._http.send_model(call, Devbox)

    async def get_devbox(self, devbox_id: str) -> Devbox:
        return await self._http.send_model(Call("GET", DEVBOX, {"id": devbox_id}), Devbox)

    async def list_devboxes(self, *, status: str | None = None) -> list[Devbox]:
        params = {"status": status} if status is not None else None
        return await self._list_all("/v1/devboxes", DevboxPage, lambda p: p.devboxes, params)

    async def update_devbox(
        self,
        devbox_id: str,
        *,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Devbox:
        """Patch: an omitted field stays; "" clears the name, {} clears the metadata."""
        return await self._update_name_and_metadata(
            DEVBOX, devbox_id, Devbox, name=name, metadata=metadata
        )

    async def shutdown_devbox(self, devbox_id: str, *, force: bool = False) -> Devbox:
        params = {"force": "true"} if force else None
        call = Call("POST", DEVBOX + "/shutdown", {"id": devbox_id}, params=params)
        return await self._http.send_model(call, Devbox)

    async def suspend_devbox(self, devbox_id: str) -> Devbox:
        call = Call("POST", DEVBOX + "/suspend", {"id": devbox_id})
        return await self._http.send_model(call, Devbox)

    async def resume_devbox(self, devbox_id: str) -> Devbox:
        call = Call("POST", DEVBOX + "/resume", {"id": devbox_id})
        return await self._http.send_model(call, Devbox)

    async def wait_for_devbox_status(
        self, devbox_id: str, statuses: Sequence[str], *, timeout: float
    ) -> Devbox:
        """The devbox once in one of `statuses`, or in failure/shutdown (which it cannot leave).

        Raises ApiTimeoutError when `timeout` seconds pass first.
        """
        return await long_poll(self._http, devbox_poll(devbox_id, statuses), timeout=timeout)

    async def execute(
        self,
        devbox_id: str,
        command: str,
        *,
        command_id: str | None = None,
        optimistic_timeout: float = EXECUTE_MAX_WAIT,
    ) -> Execution:
        """Runs `command`, waiting up to `optimistic_timeout` s; may return still `running`.

        The `command_id` (fresh per call unless given) makes retries of this call safe.
        """
        wait = min(max(optimistic_timeout, 0.0), EXECUTE_MAX_WAIT)
        body = {
            "command_id": command_id or str(uuid.uuid4()),
            "command": command,
            "optimistic_timeout": int(wait) if wait == int(wait) else wait,
        }
        timeout = httpx.Timeout(wait + 5.0, connect=5.0, pool=None)
        call = Call("POST", DEVBOX + "/execute", {"id": devbox_id}, body=body, timeout=timeout)
        return await self._http.send_model(call, Execution)

    async def execute_async(self, devbox_id: str, command: str) -> Execution:
        """Starts `command` and returns at once (a retried call may start it twice unless the
        server dedupes on x-request-id)."""
        call = Call("POST", DEVBOX + "/execute_async", {"id": devbox_id}, body={"command": command})
        return await self._http.send_model(call, Execution)

    async def get_execution(self, devbox_id: str, execution_id: str) -> Execution:
        call = Call("GET", EXECUTION, {"id": devbox_id, "execution_id": execution_id})
        return await self._http.send_model(call, Execution)

    async def wait_for_execution(
        self,
        devbox_id: str,
        execution_id: str,
        statuses: Sequence[str] = ("completed",),
        *,
        timeout: float,
    ) -> Execution:
        """The execution once in one of `statuses` (or completed); else ApiTimeoutError."""
        poll = execution_poll(devbox_id, execution_id, statuses)
        return await long_poll(self._http, poll, timeout=timeout)

    async def read_file_contents(self, devbox_id: str, path: str) -> str:
        call = Call(
            "POST",
            DEVBOX + "/read_file_contents",
            {"id": devbox_id},
            body={"file_path": path},
            timeout=FILE_TIMEOUT,
        )
        response = await self._http.send(call)
        return response.text

    async def write_file_contents(self, devbox_id: str, path: str, contents: str) -> None:
        call = Call(
            "POST",
            DEVBOX + "/write_file_contents",
            {"id": devbox_id},
            body={"file_path": path, "contents": contents},
            timeout=FILE_TIMEOUT,
        )
        await self._http.send(call)
