"""Helpers for declared-blueprint tests: a small stack on disk, and plan + apply run in this
process against the local backend with the client's request counts kept."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconcile.api.client import RunloopClient
from reconcile.apply.events import ApplyResult
from reconcile.apply.executor import apply_plan
from reconcile.live.discovery import discover_live_state
from reconcile.manifest import load_manifest
from reconcile.plan.model import Plan
from reconcile.plan.planner import build_plan
from reconcile.plan.series import statuses_needed

DOCKERFILE = 'FROM ubuntu:22.04\nARG V=1\nRUN echo "tools $V" > /home/user/TOOLS\n'
MANIFEST = """\
version: 1
stack: bps
blueprints:
  tools:
    dockerfile_file: tools.Dockerfile
    build_args: {V: "1"}
    KEEP
  app:
    base: tools
    KEEP
    system_setup_commands: ['echo "app on $(cat /home/user/TOOLS)" > /home/user/APP']
devboxes:
  web:
    blueprint: app
    keep_alive: 1h
    IGNORE
"""


def write_stack(
    folder: Path,
    *,
    keep: str = "",
    ignore_blueprint: bool = False,
    version: str = "1",
    dockerfile: str = DOCKERFILE,
) -> Path:
    """The stack's manifest and Dockerfile in `folder`; returns the manifest's path."""
    text = MANIFEST.replace("KEEP", keep).replace('{V: "1"}', f'{{V: "{version}"}}')
    text = text.replace(
        "IGNORE", "lifecycle: {ignore_changes: [blueprint]}" if ignore_blueprint else ""
    )
    (folder / "tools.Dockerfile").write_text(dockerfile)
    path = folder / "rlstate.yaml"
    path.write_text(text)
    return path


@dataclass
class Run:
    """One plan (and apply, unless plan only) and the requests each sent, by route."""

    plan: Plan
    result: ApplyResult | None
    plan_requests: dict[str, int]
    apply_requests: dict[str, int]


def plan_and_apply(server: Any, path: Path, *, apply: bool = True) -> Run:
    loaded = load_manifest(path)

    async def go() -> Run:
        async with RunloopClient(server.url, server.token) as client:
            now = datetime.now(UTC)
            live = await discover_live_state(
                client, loaded.manifest, lambda lv: statuses_needed(loaded.manifest, lv, now)
            )
            plan = build_plan(loaded, live, now)
            planned = dict(client.stats.by_route)
            client.stats.reset()
            result = await apply_plan(plan, client) if apply else None
            return Run(plan, result, planned, dict(client.stats.by_route))

    return asyncio.run(go())


def kinds(plan: Plan) -> list[tuple[str, str]]:
    return [(a.kind, a.address) for a in plan.actions]
