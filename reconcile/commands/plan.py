"""`rlstate plan`: read live state, print the plan, save it for `apply`."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from reconcile.commands import DEFAULT_MANIFEST
from reconcile.commands.common import load, make_client, make_plan
from reconcile.commands.connection import ConnectionSettings, connect
from reconcile.commands.interrupts import run_async
from reconcile.plan.model import Plan
from reconcile.plan.planfile import default_plan_path, save_plan


def run(
    manifest_path: Path,
    conn: ConnectionSettings,
    out: Path | None,
    json_out: bool,
    detailed_exitcode: bool,
    targets: list[str],
    *,
    allow_replace_adopted: bool = False,
    allow_shrink: bool = False,
) -> int:
    """Plan, print, save; exit 2 for changes only with --detailed-exitcode. A prune the shrink
    guard holds back is shown, not an error: the plan is right that it prunes nothing there.
    With --detailed-exitcode it counts as a change (live does not match the manifest)."""
    from reconcile.render import plan_to_json, render_plan_text

    loaded = load(manifest_path)
    with connect(conn, quiet=json_out) as endpoint:

        async def go() -> Plan:
            async with make_client(endpoint) as client:
                plan = await make_plan(
                    client,
                    loaded,
                    None,
                    tuple(targets),
                    allow_replace_adopted=allow_replace_adopted,
                    allow_shrink=allow_shrink,
                )
            return replace(plan, api_url=endpoint.origin)  # apply checks it is the same API

        plan = run_async(go())
    path = out or default_plan_path(manifest_path)
    save_plan(plan, path)
    if json_out:
        sys.stdout.write(plan_to_json(plan) + "\n")
    else:
        sys.stdout.write(render_plan_text(plan) + "\n")
        if plan.has_changes:
            sys.stdout.write(
                f"Saved the plan to {path}; run `{_apply_command(path)}` to apply it.\n"
            )
    if detailed_exitcode and (plan.has_changes or plan.shrink_refused):
        return 2
    return 0


def _apply_command(path: Path) -> str:
    """The shortest command that applies this saved plan from the current folder."""
    if path.resolve() == default_plan_path(DEFAULT_MANIFEST):
        return "rlstate apply"
    try:
        shown = path.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = path.resolve()
    return f"rlstate apply {shown}"
