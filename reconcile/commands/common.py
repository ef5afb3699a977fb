"""What several commands share: load, discover and plan in one go; plan files; the client.

This is the edge: it does I/O (files, the API) and hands values to the pure core.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconcile.errors import PlanFileError, UserError

if TYPE_CHECKING:
    from reconcile.api.client import RunloopClient
    from reconcile.commands.connection import Endpoint
    from reconcile.live.model import LiveState
    from reconcile.manifest import LoadedManifest
    from reconcile.plan.model import Plan

PLAN_DIR = ".rlstate"


def utc_now() -> datetime:
    return datetime.now(UTC)


def load(manifest_path: Path) -> LoadedManifest:
    """Load and validate a manifest (all problems at once, as ManifestError)."""
    from reconcile.manifest import load_manifest

    if not manifest_path.exists():
        raise UserError(f"{manifest_path}: no such manifest (pass a path, or create rlstate.yaml)")
    return load_manifest(manifest_path)


def make_client(endpoint: Endpoint, **kwargs: object) -> RunloopClient:
    from reconcile.api.client import RunloopClient

    return RunloopClient(endpoint.url, endpoint.key, **kwargs)  # type: ignore[arg-type]


async def discover(client: RunloopClient, loaded: LoadedManifest, now: datetime) -> LiveState:
    """The live state the planner needs (snapshot statuses read only where decisions need them)."""
    from reconcile.live.discovery import discover_live_state
    from reconcile.plan.series import statuses_needed

    manifest = loaded.manifest
    return await discover_live_state(
        client, manifest, lambda live: statuses_needed(manifest, live, now)
    )


async def make_plan(
    client: RunloopClient, loaded: LoadedManifest, now: datetime, targets: tuple[str, ...] = ()
) -> Plan:
    from reconcile.plan.planner import build_plan

    live = await discover(client, loaded, now)
    return build_plan(loaded, live, now, targets)


def default_plan_path(manifest_path: Path) -> Path:
    return manifest_path.resolve().parent / PLAN_DIR / "plan.json"


def save_plan(plan: Plan, path: Path) -> None:
    """Write the plan file atomically (temp file + rename), readable only by the user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plan-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        handle.write(plan.to_json())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_plan(path: Path) -> Plan:
    from reconcile.plan.model import Plan

    try:
        text = path.read_text()
    except OSError as error:
        raise PlanFileError(f"{path}: cannot read the saved plan ({error.strerror})") from None
    return Plan.from_json(text)
