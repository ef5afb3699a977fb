"""`rlstate retain --simulate 90d`: what each series' policy would keep, prune and hold over the
coming days, projected from the live series (see `reconcile.simulation`). Reads only: no
snapshot is taken or pruned and no lock is held. "Now" is the API's time.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.commands.check import read_series
from reconcile.commands.common import load, make_client
from reconcile.commands.connection import ConnectionSettings, connect
from reconcile.commands.interrupts import run_async

if TYPE_CHECKING:
    from reconcile.live.model import LiveState
    from reconcile.manifest.schema import Manifest
    from reconcile.simulation import Simulation


def project(
    manifest: Manifest, live: LiveState, now: datetime, horizon: timedelta
) -> list[Simulation]:
    """Each series' simulated runs (the live statuses must have been read)."""
    from reconcile.plan.series import in_use, policy_of, series_views, to_record
    from reconcile.simulation import simulate

    protected = in_use(live)
    out = []
    for view in series_views(manifest, live):
        records = [to_record(s) for s in view.all]
        spec = view.spec
        out.append(
            simulate(
                view.name,
                records,
                policy_of(spec),
                spec.every,
                now,
                horizon,
                grace=spec.prune.grace,
                protected=protected,
            )
        )
    return out


def to_json(sims: list[Simulation], now: datetime, horizon: timedelta) -> dict[str, Any]:
    return {
        "now": now.isoformat(),
        "horizon_seconds": int(horizon.total_seconds()),
        "series": [
            {
                "series": sim.series,
                "days": [
                    {
                        "at": day.at.isoformat(),
                        "taken": day.taken,
                        "pruned": list(day.pruned),
                        "marked": list(day.marked),
                        "kept": day.kept,
                        "bytes_kept": day.bytes_kept,
                    }
                    for day in sim.days
                ],
                "left": [
                    {"id": r.id, "created": r.created.isoformat(), "size_bytes": r.size_bytes}
                    for r in sim.left
                ],
            }
            for sim in sims
        ],
    }


def _size(value: int | None) -> str:
    from reconcile.pruning import format_bytes

    return "?" if value is None else format_bytes(value)


def to_text(sims: list[Simulation], horizon: timedelta) -> str:
    from reconcile.retention import format_duration

    lines = []
    for sim in sims:
        lines.append(
            f"snapshot.{sim.series}: {len(sim.days)} run(s) over {format_duration(horizon)}"
        )
        head = ("run at (UTC)", "taken", "pruned", "marked", "kept", "bytes")
        lines.append("  {:<17} {:<5} {:>6} {:>6} {:>5} {:>10}".format(*head))
        for day in sim.days:
            cells = (
                day.at.strftime("%Y-%m-%d %H:%M"),
                "yes" if day.taken else "-",
                len(day.pruned),
                len(day.marked),
                day.kept,
                _size(day.bytes_kept),
            )
            lines.append("  {:<17} {:<5} {:>6} {:>6} {:>5} {:>10}".format(*cells))
        last = sim.days[-1] if sim.days else None
        held = _size(last.bytes_kept) if last else "0 B"
        lines.append(f"  left after the last run: {len(sim.left)} snapshot(s), {held}")
        lines.extend(f"    {r.id} {r.created.strftime('%Y-%m-%d %H:%M')}Z" for r in sim.left)
    return "\n".join(lines) + "\n"


def run(manifest_path: Path, conn: object, horizon: timedelta, json_out: bool) -> int:
    """Prints the projection; exit 0 (1 on an error, as every command)."""
    assert isinstance(conn, ConnectionSettings)
    manifest = load(manifest_path, need_env=False).manifest
    with connect(conn, quiet=True) as endpoint:

        async def go() -> tuple[LiveState, datetime]:
            async with make_client(endpoint) as client:
                live = await read_series(client, manifest)
                return live, client.api_clock.now()

        live, now = run_async(go())
    sims = project(manifest, live, now, horizon)
    out = json.dumps(to_json(sims, now, horizon)) if json_out else to_text(sims, horizon)
    sys.stdout.write(out.rstrip("\n") + "\n")
    return 0
