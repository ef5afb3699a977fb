"""`rlstate check`: one summary line and a Nagios exit status for the stack's snapshot series.

0 OK, 1 WARNING, 2 CRITICAL (see `reconcile.monitoring`), 3 UNKNOWN when the state cannot be
read (invalid manifest, API unreachable or refusing). Ages are measured on the API's clock; a
host clock more than a minute off is reported on stderr. Reads only; takes no lock.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from reconcile.commands.common import load, make_client
from reconcile.commands.connection import ConnectionSettings, connect
from reconcile.commands.interrupts import run_async
from reconcile.errors import RlstateError
from reconcile.monitoring import UNKNOWN
from reconcile.retention import format_duration

if TYPE_CHECKING:
    from reconcile.api.client import RunloopClient
    from reconcile.live.model import LiveState
    from reconcile.manifest.schema import Manifest
    from reconcile.monitoring import SeriesHealth


async def read_series(client: RunloopClient, manifest: Manifest) -> LiveState:
    """The stack as listed, with every unread status of its series read (each can change the
    newest complete snapshot and what is kept; snapshots rlstate saw complete need no read)."""
    from reconcile.live.discovery import list_stack, read_statuses
    from reconcile.plan.retain_plan import prune_statuses_needed

    live = await list_stack(client, manifest)
    needed = prune_statuses_needed(manifest, live)
    if needed:
        live = live.with_statuses(await read_statuses(client, needed))
    return live


async def health_now(
    client: RunloopClient, manifest: Manifest, max_age: timedelta | None
) -> tuple[list[SeriesHealth], datetime]:
    """Each series' health and the API's now."""
    from reconcile.plan.health import series_health

    live = await read_series(client, manifest)
    return series_health(manifest, live, max_age), client.api_clock.now()


def metrics_text(stack: str, healths: list[SeriesHealth], now: datetime) -> str:
    from reconcile.monitoring import prometheus_text

    return prometheus_text(stack, healths, now)


def run(
    manifest_path: Path, conn: object, max_age: timedelta | None, prometheus: Path | None
) -> int:
    """Prints one line; the exit status is the Nagios state."""
    from reconcile.commands.metrics_file import write_metrics
    from reconcile.monitoring import summary_line

    assert isinstance(conn, ConnectionSettings)
    try:
        loaded = load(manifest_path, need_env=False)
        manifest = loaded.manifest
        with connect(conn, quiet=True) as endpoint:

            async def go() -> tuple[list[SeriesHealth], datetime, str | None]:
                async with make_client(endpoint) as client:
                    healths, now = await health_now(client, manifest, max_age)
                    return healths, now, client.api_clock.skew_warning(format_duration)

            healths, now, skew = run_async(go())
        if prometheus is not None:
            write_metrics(prometheus, metrics_text(manifest.stack, healths, now))
    except RlstateError as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        sys.stdout.write(f"UNKNOWN - {reason}\n")
        return UNKNOWN
    if skew:
        sys.stderr.write(skew + "\n")
    code, line = summary_line(healths, now)
    sys.stdout.write(line + "\n")
    return code
