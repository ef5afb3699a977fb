"""Routes observing a devbox: its logs (built from the commands it ran) and its resource usage.

Logs are not kept apart: every command a devbox ran is an execution (launch commands with source
`setup_commands`, the entrypoint with `entrypoint`, API commands with `exec`), and its log entries
are made from it when asked: one entry naming the command (`cmd`), one per output line (`message`;
stdout at level info, stderr at level error) and, once it ended, one with its `exit_code`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconcile.localapi.state.records import Execution
from reconcile.localapi.web.routes.common import ok, services
from reconcile.localapi.web.routes.params import query_str
from reconcile.localapi.web.views import compact, usage_view
from reconcile.localapi.workers.runner import Runner

LOG_LINES = 1000  # output lines per stream and command that the logs show (the last ones)
_LEVELS = {"stdout": "info", "stderr": "error"}


def execution_log(runner: Runner, exn: Execution) -> list[dict[str, Any]]:
    """The DevboxLog entries of one command, in order."""
    base = {"source": exn.source, "cmd_id": exn.id, "shell_name": exn.shell_name}
    start = exn.create_time_ms
    entries = [compact({**base, "level": "info", "timestamp_ms": start, "cmd": exn.command})]
    for stream, level in _LEVELS.items():
        text, _ = runner.tail(exn, stream, LOG_LINES)
        entries.extend(
            compact({**base, "level": level, "timestamp_ms": start, "message": line})
            for line in text.splitlines()
        )
    if exn.status == "completed":
        end = exn.end_time_ms if exn.end_time_ms is not None else start
        entries.append(
            compact({**base, "level": "info", "timestamp_ms": end, "exit_code": exn.exit_status})
        )
    return entries


async def logs(request: Request) -> Response:
    """GET /v1/devboxes/{id}/logs: the logs of every command, optionally of one execution/shell."""
    svc = services(request)
    dbx = svc.backend.devbox(request.path_params["id"])
    execution_id = query_str(request, "execution_id")
    shell_name = query_str(request, "shell_name")
    chosen = sorted(
        (
            e
            for e in svc.backend.executions.values()
            if e.devbox_id == dbx.id
            and (execution_id is None or e.id == execution_id)
            and (shell_name is None or e.shell_name == shell_name)
        ),
        key=lambda e: (e.create_time_ms, e.id),
    )
    return ok({"logs": await asyncio.to_thread(_entries, svc.runner, chosen)})


def _entries(runner: Runner, executions: list[Execution]) -> list[dict[str, Any]]:
    """Reads output files: run in a worker thread, off the event loop."""
    return [entry for exn in executions for entry in execution_log(runner, exn)]


async def usage(request: Request) -> Response:
    svc = services(request)
    dbx = svc.backend.devbox(request.path_params["id"])
    return ok(usage_view(dbx, svc.backend.now_ms()))


ROUTES = [
    Route("/v1/devboxes/{id}/logs", logs, methods=["GET"]),
    Route("/v1/devboxes/{id}/usage", usage, methods=["GET"]),
]
