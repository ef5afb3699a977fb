"""Operations on devboxes: create/restore/replace (boot, setup, ready), update, suspend, resume,
delete. Each is safe to interrupt and re-run after the planner re-plans what is left.

Waits are long-polls on the API (no sleep loops). It decides nothing about which devboxes
to touch: that is the plan's.
"""

from __future__ import annotations

import uuid
from typing import Any

from reconcile.api import Devbox
from reconcile.api.retry import NO_RETRY
from reconcile.apply.context import Done, OpContext
from reconcile.apply.exactly_once import new_token
from reconcile.apply.placeholders import result_key
from reconcile.apply.storage_ops import take_snapshot
from reconcile.errors import (
    ApiBadRequestError,
    ApiConflictError,
    ApiNotFoundError,
    DevboxFailedError,
    SetupCommandError,
)
from reconcile.live.model import KEY_READY, KEY_TOKEN, TERMINAL_DEVBOX
from reconcile.plan.params import (
    DevboxCreate,
    DevboxDelete,
    DevboxReplace,
    DevboxUpdate,
    FinalSnapshot,
)

BOOTING = frozenset({"provisioning", "initializing", "resuming", "queued"})
OUTPUT_TAIL_LINES = 3
OUTPUT_TAIL_CHARS = 300


def _ended(view: Devbox) -> str:
    why = view.failure_reason or view.shutdown_reason
    return f"{view.status} ({why})" if why else view.status


async def wait_until(ctx: OpContext, devbox_id: str, status: str, timeout: float) -> Devbox:
    """The devbox once in `status`; DevboxFailedError if it ends in failure/shutdown first."""
    view = await ctx.client.wait_for_devbox_status(devbox_id, [status], timeout=timeout)
    if view.status != status:
        raise DevboxFailedError(
            f"devbox {devbox_id} ended in {_ended(view)} while waiting for {status}"
        )
    return view


async def _find_devbox(ctx: OpContext, token: str) -> Devbox | None:
    for view in await ctx.client.list_devboxes():
        if view.metadata.get(KEY_TOKEN) == token:
            return view
    return None


async def _create(ctx: OpContext, body: dict[str, Any]) -> Devbox:
    token = new_token()
    body = {**body, "metadata": {**dict(body.get("metadata") or {}), KEY_TOKEN: token}}

    async def create() -> Devbox:
        return await ctx.client.create_devbox(body, request_id=token, retry=NO_RETRY)

    async def find() -> Devbox | None:
        return await _find_devbox(ctx, token)

    return await ctx.create_once(create, find)


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    tail = " | ".join(lines[-OUTPUT_TAIL_LINES:])
    return tail[-OUTPUT_TAIL_CHARS:]


async def run_setup(ctx: OpContext, devbox_id: str, commands: list[str], shown: list[str]) -> None:
    """Runs each command in order; a non-zero exit raises SetupCommandError with its output tail.

    `shown` holds the commands as planned (placeholders unresolved) for messages."""
    for index, command in enumerate(commands):
        label = shown[index] if index < len(shown) else command
        ctx.report(f"setup {index + 1}/{len(commands)} on devbox {devbox_id}: {label[:60]}")
        run = await ctx.client.execute(devbox_id, command, command_id=str(uuid.uuid4()))
        if run.status != "completed":
            run = await ctx.client.wait_for_execution(
                devbox_id, run.execution_id, ["completed"], timeout=ctx.timeouts.command
            )
        if run.exit_status != 0:
            tail = _tail(run.stderr) or _tail(run.stdout)
            said = f"; output ends: {tail}" if tail else ""
            raise SetupCommandError(
                f"setup command {index + 1} of {len(commands)} ({label!r}) on devbox "
                f"{devbox_id} exited with status {run.exit_status}{said}"
            )


async def shutdown(ctx: OpContext, devbox_id: str) -> None:
    """Shuts a devbox down; already gone counts as done; a 409 (snapshot in progress) is
    retried with backoff until the deadline."""
    deadline = ctx.clock() + ctx.timeouts.shutdown_conflict
    attempt = 0
    while True:
        attempt += 1
        try:
            await ctx.client.shutdown_devbox(devbox_id)
            return
        except ApiNotFoundError:
            return
        except (ApiConflictError, ApiBadRequestError):
            view = await ctx.client.get_devbox(devbox_id)
            if view.status in TERMINAL_DEVBOX:
                return
            if ctx.clock() >= deadline:
                raise
            ctx.report(f"devbox {devbox_id} cannot shut down yet ({view.status}); retrying")
            await ctx.sleep(ctx.client.retry_policy.backoff(attempt))


async def _final_snapshot(ctx: OpContext, devbox_id: str, final: FinalSnapshot | None) -> str:
    if final is None:
        return ""
    try:
        snap = await take_snapshot(ctx, devbox_id, final.name, dict(final.metadata))
    except (ApiBadRequestError, ApiConflictError):
        view = await ctx.client.get_devbox(devbox_id)
        if view.status not in TERMINAL_DEVBOX:
            raise
        return f"; no final snapshot: it had ended ({_ended(view)}) and has no disk"
    return f"; final snapshot {snap}"


async def create_devbox(ctx: OpContext) -> Done:
    """devbox create / restore / replace: create, boot, setup, mark ready, settle state, then
    (replace) snapshot and shut down the old one."""
    p = ctx.params_as(DevboxCreate)
    body = dict(p.body)
    setup = list(p.setup)
    ready = dict(p.ready_metadata or {**dict(body.get("metadata") or {}), KEY_READY: "true"})
    if not setup:
        # Nothing runs between boot and ready: write ready in the create call, save an update.
        body["metadata"] = ready
    view = await _create(ctx, body)
    ctx.report(f"devbox {view.id} {view.status}")
    await wait_until(ctx, view.id, "running", ctx.timeouts.devbox_ready)
    if setup:
        planned = ctx.action.params_as(DevboxCreate).setup
        await run_setup(ctx, view.id, setup, list(planned))
        # The name goes along: the API spec makes an update replace both name and metadata.
        name = body.get("name")
        await ctx.client.update_devbox(
            view.id, name=name if isinstance(name, str) else None, metadata=ready
        )
    if p.state == "suspended":
        await _suspend(ctx, view.id)
    return Done(await _finish_create(ctx, view.id), {result_key("devbox", ctx.address): view.id})


async def _finish_create(ctx: OpContext, devbox_id: str) -> str:
    p = ctx.params_as(DevboxCreate)
    kind = ctx.action.kind
    if isinstance(p, DevboxReplace) and p.old_id:
        extra = await _final_snapshot(ctx, p.old_id, p.final_snapshot)
        await shutdown(ctx, p.old_id)
        return f"{ctx.address} has been replaced ({devbox_id} replaces {p.old_id}{extra})"
    if kind == "restore":
        source = p.body.get("snapshot_id", "a snapshot")
        return f"{ctx.address} has been restored from {source} ({devbox_id})"
    return f"{ctx.address} has been created ({devbox_id})"


async def update_devbox(ctx: OpContext) -> Done:
    p = ctx.params_as(DevboxUpdate)
    await ctx.client.update_devbox(ctx.resource_id, name=p.name, metadata=p.metadata)
    return Done(f"{ctx.address} has been updated")


async def _suspend(ctx: OpContext, devbox_id: str) -> None:
    try:
        await ctx.client.suspend_devbox(devbox_id)
    except (ApiBadRequestError, ApiConflictError):
        view = await ctx.client.get_devbox(devbox_id)
        if view.status in BOOTING:
            await wait_until(ctx, devbox_id, "running", ctx.timeouts.devbox_ready)
            await ctx.client.suspend_devbox(devbox_id)
        elif view.status not in ("suspending", "suspended"):
            raise
    ctx.report(f"devbox {devbox_id} suspending")
    await wait_until(ctx, devbox_id, "suspended", ctx.timeouts.devbox_transition)


async def suspend_devbox(ctx: OpContext) -> Done:
    await _suspend(ctx, ctx.resource_id)
    return Done(f"{ctx.address} has been suspended")


async def resume_devbox(ctx: OpContext) -> Done:
    devbox_id = ctx.resource_id
    try:
        await ctx.client.resume_devbox(devbox_id)
    except (ApiBadRequestError, ApiConflictError):
        view = await ctx.client.get_devbox(devbox_id)
        if view.status == "suspending":
            await wait_until(ctx, devbox_id, "suspended", ctx.timeouts.devbox_transition)
            await ctx.client.resume_devbox(devbox_id)
        elif view.status not in BOOTING and view.status != "running":
            raise
    ctx.report(f"devbox {devbox_id} resuming")
    await wait_until(ctx, devbox_id, "running", ctx.timeouts.devbox_transition)
    return Done(f"{ctx.address} has been resumed")


async def delete_devbox(ctx: OpContext) -> Done:
    final = ctx.params_as(DevboxDelete).final_snapshot
    extra = await _final_snapshot(ctx, ctx.resource_id, final)
    await shutdown(ctx, ctx.resource_id)
    return Done(f"{ctx.address} ({ctx.resource_id}) has been shut down{extra}")
