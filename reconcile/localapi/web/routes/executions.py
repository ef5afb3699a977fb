"""Routes for commands on a devbox: execute, execute_async, execute_sync, executions/{id} (retrieve,
wait_for_status, kill, send_std_in) and the stdout/stderr SSE streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from reconcile.localapi.state.problems import Invalid, WrongState
from reconcile.localapi.state.records import EXECUTION_STATUSES, Devbox, Execution
from reconcile.localapi.web.routes.common import ok, services, timed_out
from reconcile.localapi.web.routes.params import clamp_timeout, query_int, read_body
from reconcile.localapi.workers.runner import Runner

EXEC_MAX = 25.0
SYNC_LAST_N = 100_000


def async_view(runner: Runner, exn: Execution, last_n: int | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "devbox_id": exn.devbox_id,
        "execution_id": exn.id,
        "status": exn.status,
    }
    if exn.shell_name is not None:
        view["shell_name"] = exn.shell_name
    if exn.status == "completed":
        view["exit_status"] = exn.exit_status
        for stream in ("stdout", "stderr"):
            view[stream], view[f"{stream}_truncated"] = runner.tail(exn, stream, last_n)
    return view


def _running_devbox(request: Request) -> Devbox:
    dbx = services(request).backend.devbox(request.path_params["id"])
    if dbx.status != "running":
        raise WrongState(f"devbox {dbx.id} is {dbx.status}; commands need a running devbox")
    return dbx


async def _wait_completed(request: Request, exn: Execution, seconds: float | None) -> bool:
    notifier = services(request).backend.notifier
    return await notifier.wait_until(exn.id, lambda: exn.status == "completed", seconds)


async def execute(request: Request) -> Response:
    """Start (or find by command_id), wait up to optimistic_timeout; `running` if not done."""
    svc = services(request)
    dbx = _running_devbox(request)
    body = await read_body(request, ("command_id", "command", "shell_name", "optimistic_timeout"))
    command = body.req_text("command")
    command_id = body.text("command_id")
    hold = clamp_timeout(body.number("optimistic_timeout"), EXEC_MAX, EXEC_MAX)
    last_n = query_int(request, "last_n", minimum=0)
    exn = svc.runner.by_command_id(dbx.id, command_id) if command_id else None
    if exn is None:
        exn = await svc.runner.start(dbx, command, command_id, body.text("shell_name"))
    await _wait_completed(request, exn, hold)
    return ok(async_view(svc.runner, exn, last_n))


async def execute_async(request: Request) -> Response:
    svc = services(request)
    dbx = _running_devbox(request)
    body = await read_body(request, ("command", "shell_name", "attach_stdin"))
    if body.boolean("attach_stdin"):
        raise Invalid("attach_stdin: stdin streaming is not supported by the local server")
    exn = await svc.runner.start(dbx, body.req_text("command"), None, body.text("shell_name"))
    return ok(async_view(svc.runner, exn, None))


async def execute_sync(request: Request) -> Response:
    svc = services(request)
    dbx = _running_devbox(request)
    body = await read_body(request, ("command", "shell_name", "attach_stdin"))
    exn = await svc.runner.start(dbx, body.req_text("command"), None, body.text("shell_name"))
    await _wait_completed(request, exn, None)
    return ok(
        {
            "devbox_id": dbx.id,
            "stdout": svc.runner.tail(exn, "stdout", SYNC_LAST_N)[0],
            "stderr": svc.runner.tail(exn, "stderr", SYNC_LAST_N)[0],
            "exit_status": exn.exit_status if exn.exit_status is not None else 143,
            "shell_name": exn.shell_name,
        }
    )


def _execution(request: Request) -> Execution:
    b = services(request).backend
    return b.execution(request.path_params["devbox_id"], request.path_params["execution_id"])


async def retrieve(request: Request) -> Response:
    exn = _execution(request)
    return ok(async_view(services(request).runner, exn, query_int(request, "last_n", minimum=0)))


async def wait_for_status(request: Request) -> Response:
    exn = _execution(request)
    body = await read_body(request, ("statuses", "timeout_seconds"))
    statuses = body.str_list("statuses", required=True) or []
    if not statuses:
        raise Invalid("statuses: give at least one status")
    for status in statuses:
        if status not in EXECUTION_STATUSES:
            raise Invalid(f"statuses: {status!r} is not one of {', '.join(EXECUTION_STATUSES)}")
    hold = clamp_timeout(body.number("timeout_seconds"), EXEC_MAX, EXEC_MAX)
    notifier = services(request).backend.notifier
    reached = await notifier.wait_until(
        exn.id, lambda: exn.status in statuses or exn.status == "completed", hold
    )
    if not reached:
        raise timed_out(f"execution {exn.id}", hold)
    return ok(async_view(services(request).runner, exn, query_int(request, "last_n", minimum=0)))


async def kill(request: Request) -> Response:
    exn = _execution(request)
    await read_body(request, ("kill_process_group",))
    runner = services(request).runner
    return ok(async_view(runner, await runner.kill(exn), query_int(request, "last_n", minimum=0)))


async def send_std_in(request: Request) -> Response:
    _execution(request)
    raise Invalid("stdin: commands run with stdin closed on the local server")


async def _stream(request: Request, stream: str) -> Response:
    """SSE: each `data:` is {"output": chunk, "offset": offset after it}; ends with the command."""
    svc = services(request)
    exn = _execution(request)
    offset = query_int(request, "offset", minimum=0) or 0

    async def events() -> AsyncIterator[bytes]:
        position = offset
        while True:
            done = exn.status == "completed"
            chunk = await asyncio.to_thread(svc.runner.read_from, exn, stream, position)
            if chunk:
                position += len(chunk)
                text = chunk.decode("utf-8", "replace")
                yield f"data: {json.dumps({'output': text, 'offset': position})}\n\n".encode()
                continue
            if done:
                return
            await svc.backend.notifier.next_change(exn.id, 1.0)

    return StreamingResponse(events(), media_type="text/event-stream")


async def stream_stdout(request: Request) -> Response:
    return await _stream(request, "stdout")


async def stream_stderr(request: Request) -> Response:
    return await _stream(request, "stderr")


_EXN = "/v1/devboxes/{devbox_id}/executions/{execution_id}"
ROUTES = [
    Route("/v1/devboxes/{id}/execute", execute, methods=["POST"]),
    Route("/v1/devboxes/{id}/execute_async", execute_async, methods=["POST"]),
    Route("/v1/devboxes/{id}/execute_sync", execute_sync, methods=["POST"]),
    Route(_EXN, retrieve, methods=["GET"]),
    Route(f"{_EXN}/wait_for_status", wait_for_status, methods=["POST"]),
    Route(f"{_EXN}/kill", kill, methods=["POST"]),
    Route(f"{_EXN}/send_std_in", send_std_in, methods=["POST"]),
    Route(f"{_EXN}/stream_stdout_updates", stream_stdout, methods=["GET"]),
    Route(f"{_EXN}/stream_stderr_updates", stream_stderr, methods=["GET"]),
]
