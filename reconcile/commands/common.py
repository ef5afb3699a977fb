"""What several commands share: load, discover and plan in one go; the client.

This is the edge: it does I/O (files, the API) and hands values to the pure core.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconcile.errors import UserError

if TYPE_CHECKING:
    from reconcile.api.client import RunloopClient
    from reconcile.api.limiter import AdaptiveLimit, Cut
    from reconcile.api.retry import RetryEvent
    from reconcile.commands.connection import Endpoint
    from reconcile.live.model import LiveState
    from reconcile.manifest import LoadedManifest
    from reconcile.plan.model import Plan


def utc_now() -> datetime:
    return datetime.now(UTC)


def load(manifest_path: Path, *, need_env: bool = True) -> LoadedManifest:
    """Load and validate a manifest (all problems at once, as ManifestError).

    `need_env=False` for commands that send no `${env:}` value (retain, destroy)."""
    from reconcile.manifest import load_manifest

    if not manifest_path.exists():
        raise UserError(f"{manifest_path}: no such manifest (pass a path, or create rlstate.yaml)")
    return load_manifest(manifest_path, need_env=need_env)


class RetryNotice:
    """Says on stderr why reads are waiting (an unreachable URL would otherwise be silent for
    the ~13 s the retries take); one line per round, however many requests share it."""

    def __init__(self) -> None:
        self.shown = 0

    def __call__(self, event: RetryEvent) -> None:
        if event.attempt <= self.shown:
            return
        self.shown = event.attempt
        sys.stderr.write(
            f"rlstate: {event.method} {event.path}: {event} "
            f"(attempt {event.attempt} of {event.max_attempts})\n"
        )
        sys.stderr.flush()


def cut_notice(cut: Cut) -> None:
    """Says on stderr that the API throttled and the request limit was cut."""
    from reconcile.apply.events import LimitEvent

    sys.stderr.write(
        f"rlstate: {LimitEvent(cut.status, cut.pause, cut.before, cut.after).message}\n"
    )
    sys.stderr.flush()


def make_client(endpoint: Endpoint, limit: AdaptiveLimit | None = None) -> RunloopClient:
    """A client for the endpoint that says on stderr when it retries or is throttled; `limit`
    carries one run's adaptive limit from client to client."""
    from reconcile.api.client import RunloopClient

    return RunloopClient(
        endpoint.url,
        endpoint.key,
        on_retry=RetryNotice(),
        limit=limit,
        on_cut=cut_notice,
        lean=True,
    )


async def discover(
    client: RunloopClient, loaded: LoadedManifest, now: datetime | None = None
) -> LiveState:
    """The live state the planner needs (snapshot statuses read only where decisions need them).
    "Now" is the API's time (`client.api_clock`, known once the listing answered) unless given."""
    from reconcile.live.discovery import discover_live_state
    from reconcile.plan.series import statuses_needed

    manifest = loaded.manifest
    return await discover_live_state(
        client,
        manifest,
        lambda live: statuses_needed(manifest, live, now or client.api_clock.now()),
    )


async def make_plan(
    client: RunloopClient,
    loaded: LoadedManifest,
    now: datetime | None = None,
    targets: tuple[str, ...] = (),
    *,
    allow_replace_adopted: bool = False,
    allow_shrink: bool = False,
) -> Plan:
    """Discover and plan, deciding by the API's time unless `now` is given."""
    from reconcile.plan.planner import build_plan

    live = await discover(client, loaded, now)
    return build_plan(
        loaded,
        live,
        now or client.api_clock.now(),
        targets,
        allow_replace_adopted=allow_replace_adopted,
        allow_shrink=allow_shrink,
    )
