"""Each series' health for `check` and the metrics file, from the live state and the API's `now`.
Pure: it reads the stamps rlstate left on the series' snapshots; no clock, no API.

Kept: complete snapshots not marked for deletion. Bytes: what every snapshot of the series
still holds (marked ones too: they are not gone yet). The last run: the newest
`rlstate.last_run` stamp on any of the series' snapshots (see `reconcile.stamps`).
"""

from __future__ import annotations

from datetime import timedelta

from reconcile.live.model import LiveState
from reconcile.manifest.schema import Manifest
from reconcile.monitoring import SeriesHealth, default_alert_after
from reconcile.plan.series import newest_complete, series_views
from reconcile.stamps import newest_last_run, verified_at


def series_health(
    manifest: Manifest, live: LiveState, max_age: timedelta | None = None
) -> list[SeriesHealth]:
    """One health record per series of the manifest (statuses as read: unread ones count as
    not complete, so read the newest ones first)."""
    out = []
    for view in series_views(manifest, live):
        spec = view.spec
        present = [s for s in view.all if s.status != "deleted"]
        unmarked = [s for s in present if s.delete_after is None]
        newest = newest_complete(unmarked)
        verified = [
            t for s in unmarked if s.status == "complete" and (t := verified_at(s.metadata))
        ]
        sizes = [s.size_bytes for s in present]
        run = newest_last_run(s.metadata for s in view.managed)
        out.append(
            SeriesHealth(
                series=view.name,
                newest_complete=newest.created if newest else None,
                newest_verified=max(verified) if verified else None,
                kept=sum(1 for s in unmarked if s.status == "complete"),
                bytes_kept=None if None in sizes else sum(s or 0 for s in sizes),
                last_run_at=run.at if run else None,
                last_run_ok=run.ok if run else None,
                alert_after=spec.alert_after or max_age or default_alert_after(spec.every),
                verify_every=spec.verify.every if spec.verify else None,
            )
        )
    return out
