"""Operations on blueprints: build (or wait for a build under way) and delete a build.

A build is started exactly once (token lookup), waited for with the API wait helpers, and a
failed one is reported with its build log's tail. It decides nothing about what to build.
"""

from __future__ import annotations

from reconcile.api import Blueprint
from reconcile.api.retry import NO_RETRY
from reconcile.apply.context import Done, OpContext, name_of
from reconcile.apply.exactly_once import new_token
from reconcile.apply.placeholders import result_key
from reconcile.errors import (
    ApiBadRequestError,
    ApiConflictError,
    ApiNotFoundError,
    BlueprintBuildError,
)
from reconcile.live.model import KEY_TOKEN
from reconcile.plan.params import BlueprintBuild

LOG_TAIL_LINES = 5
LOG_TAIL_CHARS = 600


async def _find(ctx: OpContext, name: str, token: str) -> Blueprint | None:
    for build in await ctx.client.list_blueprints(name=name):
        if build.metadata.get(KEY_TOKEN) == token:
            return build
    return None


async def _start(ctx: OpContext, p: BlueprintBuild) -> Blueprint:
    token = new_token()
    body = {**p.body, "metadata": {**dict(p.body.get("metadata") or {}), KEY_TOKEN: token}}
    name = str(p.body.get("name") or "")

    async def create() -> Blueprint:
        return await ctx.client.create_blueprint(body, request_id=token, retry=NO_RETRY)

    async def find() -> Blueprint | None:
        return await _find(ctx, name, token)

    return await ctx.create_once(create, find)


def log_tail(lines: list[str]) -> str:
    """The last few non-empty lines of a build log, on one line."""
    kept = [line.strip() for line in lines if line.strip()]
    return " | ".join(kept[-LOG_TAIL_LINES:])[-LOG_TAIL_CHARS:]


async def build_blueprint(ctx: OpContext) -> Done:
    """Build (or wait for the build under way) and record its id as `blueprint:NAME`."""
    p = ctx.params_as(BlueprintBuild)
    build_id = p.wait_for or (await _start(ctx, p)).id
    ctx.report(f"build {build_id} under way")
    view = await ctx.client.wait_for_blueprint(build_id, timeout=ctx.timeouts.blueprint_build)
    if view.status != "build_complete":
        tail = log_tail(await ctx.client.blueprint_logs(build_id))
        why = f" ({view.failure_reason})" if view.failure_reason else ""
        log = f"; build log ends: {tail}" if tail else "; the build log is empty"
        raise BlueprintBuildError(f"build {build_id} {view.status}{why}{log}")
    name = name_of(ctx.address)
    return Done(f"{ctx.address}: built {build_id}", {result_key("blueprint", name): build_id})


async def delete_blueprint(ctx: OpContext) -> Done:
    """Delete one build; one already gone counts as done, one the API refuses to delete (a
    snapshot outside the stack derives from it) is left in place and said so."""
    try:
        await ctx.client.delete_blueprint(ctx.resource_id)
    except ApiNotFoundError:
        return Done(f"{ctx.address}: {ctx.resource_id} was already gone")
    except (ApiConflictError, ApiBadRequestError) as refused:
        why = " ".join(str(refused).split())
        return Done(f"{ctx.address}: {ctx.resource_id} left in place", left_behind=why)
    return Done(f"{ctx.address}: deleted {ctx.resource_id}")
