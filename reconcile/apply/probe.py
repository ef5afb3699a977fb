"""Verified restores, carried out: restore a snapshot into a throwaway devbox, run the series'
verify command there, and always delete the devbox again. Decides nothing (see
`reconcile.verification`); it returns what happened.

A probe devbox carries `rlstate.probe=<stack>` and never `rlstate.stack`, so plans, `apply` and
the "in use" protection never see it. It is shut down in a `finally`, also when the run is
cancelled (Ctrl-C, SIGTERM); one that a killed run left behind is shut down by the next run
(`remove_leftover_probes`), before it starts any probe of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from reconcile.api.client import RunloopClient
from reconcile.errors import ApiError, ApiNotFoundError
from reconcile.live.model import KEY_PROBE, KEY_SERIES, KEY_SOURCE, TERMINAL_DEVBOX

BOOT_TIMEOUT = 600.0


@dataclass(frozen=True)
class ProbeResult:
    """One verification: the snapshot, whether the command exited 0, and its output's tail."""

    snapshot_id: str
    devbox_id: str | None
    ok: bool
    reason: str
    stdout: str = ""
    stderr: str = ""


async def remove_leftover_probes(client: RunloopClient, stack: str) -> list[str]:
    """Shuts down every live probe devbox of the stack; their ids."""
    gone = []
    for box in await client.list_devboxes():
        if box.metadata.get(KEY_PROBE) == stack and box.status not in TERMINAL_DEVBOX:
            with contextlib.suppress(ApiNotFoundError):
                await client.shutdown_devbox(box.id)
            gone.append(box.id)
    return gone


async def _shutdown(client: RunloopClient, devbox_id: str) -> None:
    with contextlib.suppress(ApiNotFoundError):
        await client.shutdown_devbox(devbox_id)


async def _run_command(
    client: RunloopClient, devbox_id: str, command: str, timeout: float
) -> tuple[int | None, str, str]:
    """(exit status or None on timeout, stdout, stderr)."""
    deadline = time.monotonic() + timeout
    done = await client.execute(devbox_id, command, optimistic_timeout=min(timeout, 25.0))
    while done.status != "completed":
        left = deadline - time.monotonic()
        if left <= 0:
            return None, done.stdout, done.stderr
        with contextlib.suppress(ApiError):
            done = await client.wait_for_execution(
                devbox_id, done.execution_id, timeout=min(left, 60.0)
            )
            continue
        done = await client.get_execution(devbox_id, done.execution_id)
    return done.exit_status, done.stdout, done.stderr


async def run_probe(
    client: RunloopClient, stack: str, series: str, snapshot_id: str, command: str, timeout: float
) -> ProbeResult:
    """Restores `snapshot_id`, runs `command` (at most `timeout` s), deletes the devbox."""
    meta = {KEY_PROBE: stack, KEY_SERIES: series, KEY_SOURCE: snapshot_id}
    body = {"name": f"rlstate-probe-{series}", "snapshot_id": snapshot_id, "metadata": meta}
    box = await client.create_devbox(body)
    try:
        ready = await client.wait_for_devbox_status(box.id, ["running"], timeout=BOOT_TIMEOUT)
        if ready.status != "running":
            return ProbeResult(snapshot_id, box.id, False, f"the restored devbox {ready.status}")
        status, out, err = await _run_command(client, box.id, command, timeout)
        reason = f"timed out after {int(timeout)}s" if status is None else f"exit {status}"
        return ProbeResult(snapshot_id, box.id, status == 0, reason, out, err)
    finally:
        await asyncio.shield(_shutdown(client, box.id))
