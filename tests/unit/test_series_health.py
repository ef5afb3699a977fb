"""Series health from live snapshots and their stamps, as `check` and the metrics file see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconcile.live.model import (
    KEY_DELETE_AFTER,
    KEY_LAST_RUN,
    KEY_SERIES,
    KEY_STACK,
    KEY_VERIFIED,
    LiveSnapshot,
    LiveState,
)
from reconcile.manifest.schema import Manifest
from reconcile.plan.health import series_health

NOW = datetime(2031, 3, 1, 2, 0, tzinfo=UTC)
MANIFEST = Manifest.model_validate(
    {
        "version": 1,
        "stack": "s",
        "snapshots": {
            "nightly": {"devbox": "dbx_1", "every": "24h", "keep": {"last": 3}},
            "weekly": {"devbox": "dbx_1", "keep": {"last": 3}, "alert_after": "8d"},
        },
    }
)


def snap(n: int, series: str = "nightly", **meta: str) -> LiveSnapshot:
    created = NOW - timedelta(days=n)
    metadata = {KEY_STACK: "s", KEY_SERIES: series, **meta}
    ms = int(created.timestamp() * 1000)
    return LiveSnapshot(
        f"snp_{series}_{n}", ms, "dbx_1", metadata, size_bytes=10, status="complete"
    )


def test_health_reads_ages_marks_stamps_and_alert_windows() -> None:
    snaps = (
        snap(1, **{KEY_LAST_RUN: "2031-03-01T01:00:00Z failed"}),
        snap(2, **{KEY_VERIFIED: "2031-02-27T03:00:00Z", KEY_LAST_RUN: "2031-02-28T01:00:00Z ok"}),
        snap(3, **{KEY_DELETE_AFTER: "2031-03-02T00:00:00Z"}),
    )
    nightly, weekly = series_health(MANIFEST, LiveState("s", snapshots=snaps))
    assert nightly.newest_complete == NOW - timedelta(days=1)
    assert nightly.newest_verified == datetime(2031, 2, 27, 3, 0, tzinfo=UTC)
    assert (nightly.kept, nightly.bytes_kept) == (2, 30)  # the marked one holds bytes, not a place
    assert (nightly.last_run_at, nightly.last_run_ok) == (
        datetime(2031, 3, 1, 1, 0, tzinfo=UTC),
        False,
    )
    assert nightly.alert_after == timedelta(hours=36)
    assert weekly.newest_complete is None and weekly.last_run_ok is None
    assert weekly.alert_after == timedelta(days=8)
    (_, weekly_default) = series_health(MANIFEST, LiveState("s"), max_age=timedelta(days=2))
    assert weekly_default.alert_after == timedelta(days=8)  # the series' own setting wins
