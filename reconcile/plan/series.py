"""Snapshot series in a plan: which snapshots belong to a series, what is due, what to prune. Pure.

Snapshot lists carry no status; discovery reads statuses only for the snapshots a decision
depends on. `statuses_needed` names them: it decides as if every unread snapshot were complete,
and asks for the ones that assumption touched (the newest, and each one it would remove).
Discovery repeats until nothing more is needed, so each prune is decided on a status read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from reconcile.live.model import KEY_SERIES, KEY_SOURCE, KEY_STACK, LiveSnapshot, LiveState
from reconcile.manifest.schema import Manifest, SeriesSpec
from reconcile.retention import (
    RetentionDecision,
    RetentionPolicy,
    SnapshotRecord,
    decide_retention,
    is_snapshot_due,
)

_STATUS_NAMES = {"in_progress", "complete", "error", "deleted"}


@dataclass(frozen=True)
class SeriesView:
    """A series' live snapshots: those rlstate took, plus foreign ones when it may prune them."""

    name: str
    spec: SeriesSpec
    devbox_id: str | None
    managed: tuple[LiveSnapshot, ...]
    unmanaged: tuple[LiveSnapshot, ...]

    @property
    def all(self) -> tuple[LiveSnapshot, ...]:
        return self.managed + self.unmanaged


def policy_of(spec: SeriesSpec) -> RetentionPolicy:
    k = spec.keep
    return RetentionPolicy(
        last=k.last,
        hourly=k.hourly,
        daily=k.daily,
        weekly=k.weekly,
        monthly=k.monthly,
        yearly=k.yearly,
        within=k.within,
    )


def series_devbox_ids(manifest: Manifest, live: LiveState) -> dict[str, str | None]:
    """Each series' devbox id: an external dbx_ id, or the live active devbox of that name."""
    by_name = {
        d.logical_name: d.id
        for d in sorted(live.devboxes, key=lambda d: d.create_time_ms)
        if d.active and d.metadata.get(KEY_STACK) == live.stack
    }
    return {
        name: spec.devbox if spec.devbox.startswith("dbx_") else by_name.get(spec.devbox)
        for name, spec in manifest.snapshots.items()
    }


def series_views(manifest: Manifest, live: LiveState) -> list[SeriesView]:
    """Every series of the manifest with its live snapshots."""
    ids = series_devbox_ids(manifest, live)
    out = []
    for name, spec in manifest.snapshots.items():
        managed = tuple(
            s
            for s in live.snapshots
            if s.metadata.get(KEY_STACK) == live.stack and s.series == name
        )
        unmanaged: tuple[LiveSnapshot, ...] = ()
        if spec.prune_unmanaged and ids[name]:
            unmanaged = tuple(
                s
                for s in live.snapshots
                if s.source_devbox_id == ids[name] and KEY_STACK not in s.metadata
            )
        out.append(SeriesView(name, spec, ids[name], managed, unmanaged))
    return out


def to_record(snap: LiveSnapshot, *, assume_complete: bool = False) -> SnapshotRecord:
    status = snap.status
    if status not in _STATUS_NAMES:
        status = "complete" if assume_complete else "unknown"
    return SnapshotRecord(
        id=snap.id,
        created=snap.created,
        status=status,  # type: ignore[arg-type]
        size_bytes=snap.size_bytes,
    )


def in_use(live: LiveState) -> dict[str, str]:
    """Snapshots that a live devbox of the stack was restored from: never pruned."""
    used: dict[str, str] = {}
    for box in live.devboxes:
        if not box.active or box.metadata.get(KEY_STACK) != live.stack:
            continue
        for snap_id in (box.snapshot_id, box.metadata.get(KEY_SOURCE)):
            if snap_id:
                used.setdefault(snap_id, f"in use by devbox.{box.logical_name or box.id}")
    return used


def decide_series(
    view: SeriesView, now: datetime, protected: Mapping[str, str], *, assume_complete: bool = False
) -> RetentionDecision:
    records = [to_record(s, assume_complete=assume_complete) for s in view.all]
    return decide_retention(records, policy_of(view.spec), now, protected)


def newest_complete(snaps: Iterable[LiveSnapshot]) -> LiveSnapshot | None:
    done = [s for s in snaps if s.status == "complete"]
    return max(done, key=lambda s: (s.create_time_ms, s.id)) if done else None


def is_due(view: SeriesView, now: datetime) -> bool:
    records = [to_record(s) for s in view.managed]
    return is_snapshot_due(records, view.spec.every, now)


def statuses_needed(manifest: Manifest, live: LiveState, now: datetime) -> frozenset[str]:
    """Unread snapshots whose status a decision of this plan depends on."""
    protected = in_use(live)
    needed: set[str] = set()
    for view in series_views(manifest, live):
        unread = {s.id for s in view.all if s.status == "unread"}
        if not unread:
            continue
        decision = decide_series(view, now, protected, assume_complete=True)
        needed.update(v.snapshot.id for v in decision.removed if v.snapshot.id in unread)
        newest = max(view.all, key=lambda s: (s.create_time_ms, s.id))
        if newest.id in unread:
            needed.add(newest.id)
        assumed = newest_complete(
            s if s.status != "unread" else _as_complete(s) for s in view.managed
        )
        if assumed is not None and assumed.id in unread:
            needed.add(assumed.id)
    return frozenset(needed)


def _as_complete(snap: LiveSnapshot) -> LiveSnapshot:
    return LiveSnapshot(
        snap.id,
        snap.create_time_ms,
        snap.source_devbox_id,
        snap.metadata,
        snap.name,
        snap.size_bytes,
        "complete",
        None,
    )


def orphan_series_snapshots(manifest: Manifest, live: LiveState) -> list[LiveSnapshot]:
    """Snapshots of this stack whose series the manifest no longer names."""
    return [
        s
        for s in live.snapshots
        if s.metadata.get(KEY_STACK) == live.stack
        and s.metadata.get(KEY_SERIES) not in manifest.snapshots
        and s.status != "deleted"
    ]
