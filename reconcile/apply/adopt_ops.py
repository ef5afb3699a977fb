"""Operations that adopt a live resource: one metadata update in place, nothing recreated.

A blueprint build's metadata cannot be updated, so adopting one sends nothing (the plan
compared its echoed definition; devboxes are created from it by id). The others are a single
request, so an apply killed mid-adoption leaves every resource either
stamped (the next plan sees it as the stack's own) or untouched (the next plan adopts it).
"""

from __future__ import annotations

from reconcile.apply.context import Done, OpContext
from reconcile.apply.placeholders import result_key
from reconcile.plan.params import DevboxAdopt, SnapshotAdopt


async def adopt_devbox(ctx: OpContext) -> Done:
    p = ctx.params_as(DevboxAdopt)
    await ctx.client.update_devbox(ctx.resource_id, name=p.name, metadata=p.metadata)
    ids = {result_key("devbox", ctx.address): ctx.resource_id}
    return Done(f"{ctx.address} has been adopted ({ctx.resource_id})", ids)


async def adopt_snapshot(ctx: OpContext) -> Done:
    p = ctx.params_as(SnapshotAdopt)
    await ctx.client.update_snapshot(ctx.resource_id, name=p.name, metadata=p.metadata)
    return Done(f"{ctx.address}: {ctx.resource_id} has been adopted")


async def adopt_blueprint(ctx: OpContext) -> Done:
    """Nothing to send: the plan already uses the build's id wherever devboxes need it."""
    return Done(f"{ctx.address} is {ctx.resource_id} (adopted; nothing written)")
