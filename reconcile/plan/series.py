"""Snapshot series in a plan: which snapshots belong to a series, what is due, what to prune. Pure.

Snapshot lists carry no status; discovery reads statuses only for the snapshots a decision
depends on. `unread_that_matter` decides as if every unread snapshot were complete: when that
removes nothing, no real status can make it remove a complete snapshot (the rules only keep
more when some snapshots turn out not complete), so only the newest ones are needed (for
`every` and restores); when it removes anything, every status of the series is needed, so the
prune is decided on statuses read, never on assumptions. Discovery repeats until nothing more
is needed; the planner refuses a series' prune while a needed status is still unread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from reconcile.live.model import (
    KEY_SOURCE,
    KEY_STACK,
    LiveSnapshot,
    LiveState,
    primary_devbox_ids,
)
from reconcile.manifest.schema import Manifest, SeriesSpec
from reconcile.retention import (
    RetentionDecision,
    RetentionPolicy,
    SnapshotRecord,
    decide_retention,
    is_snapshot_due,
)

_STATUS_NAMES = {"in_progress", "complete", "error", "deleted"}
ADOPTING_REASON = "being adopted (import:); retention applies once an apply has adopted it"


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

    @property
    def adopting(self) -> tuple[LiveSnapshot, ...]:
        """Snapshots an `import:` entry brings into the series that carry no marks yet: they
        count as the series' own (for `every` and restores) but are not pruned this run."""
        return tuple(s for s in self.managed if KEY_STACK not in s.metadata)

    def protected(self, given: Mapping[str, str]) -> dict[str, str]:
        """`given` plus the snapshots being adopted, which no prune of this run may take."""
        return {**given, **{s.id: ADOPTING_REASON for s in self.adopting}}


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
    by_name = primary_devbox_ids(live.stack, live.devboxes)
    return {
        name: spec.devbox if spec.devbox.startswith("dbx_") else by_name.get(spec.devbox)
        for name, spec in manifest.snapshots.items()
    }


def series_views(manifest: Manifest, live: LiveState) -> list[SeriesView]:
    """Every series of the manifest with its live snapshots."""
    ids = series_devbox_ids(manifest, live)
    imported = {
        i.to.split(".", 1)[1]: i.devbox
        for i in manifest.imports
        if i.to.startswith("snapshot.") and i.devbox
    }
    by_series: dict[str | None, list[LiveSnapshot]] = {}
    foreign: dict[str, list[LiveSnapshot]] = {}
    for snap in live.snapshots:
        if snap.metadata.get(KEY_STACK) == live.stack:
            by_series.setdefault(snap.series, []).append(snap)
        elif KEY_STACK not in snap.metadata:
            foreign.setdefault(snap.source_devbox_id, []).append(snap)
    out = []
    for name, spec in manifest.snapshots.items():
        devbox_id = ids[name]
        unmanaged = foreign.get(devbox_id, []) if spec.prune_unmanaged and devbox_id else []
        managed = by_series.get(name, [])
        source = imported.get(name)
        if source is not None:
            managed = managed + foreign.get(source, [])
            if source == devbox_id:
                unmanaged = []
        out.append(SeriesView(name, spec, devbox_id, tuple(managed), tuple(unmanaged)))
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
        delete_refused=snap.delete_refused,
        delete_after=snap.delete_after,
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
    view: SeriesView, now: datetime, protected: Mapping[str, str]
) -> RetentionDecision:
    """Keep or prune each snapshot of the series; unread ones that matter refuse the prune,
    the others (which cannot change a removal) are assumed complete."""
    assumed, needed = _assumed(view, now, protected)
    if not needed:
        return assumed
    records = [to_record(s, assume_complete=s.id not in needed) for s in view.all]
    return decide_retention(records, policy_of(view.spec), now, view.protected(protected))


def newest_complete(snaps: Iterable[LiveSnapshot]) -> LiveSnapshot | None:
    done = [s for s in snaps if s.status == "complete"]
    return max(done, key=lambda s: (s.create_time_ms, s.id)) if done else None


def is_due(view: SeriesView, now: datetime) -> bool:
    records = [to_record(s) for s in view.managed]
    return is_snapshot_due(records, view.spec.every, now)


def unread_that_matter(
    view: SeriesView, now: datetime, protected: Mapping[str, str]
) -> frozenset[str]:
    """Unread snapshots of one series whose status a decision of this plan depends on."""
    return _assumed(view, now, protected)[1]


def _assumed(
    view: SeriesView, now: datetime, protected: Mapping[str, str]
) -> tuple[RetentionDecision, frozenset[str]]:
    """The decision with every unread snapshot assumed complete, and the unread ones it
    depends on: all of them if it removes anything, else the newest and the newest that may
    be complete (what `every` and restores read)."""
    records = [to_record(s, assume_complete=True) for s in view.all]
    assumed = decide_retention(records, policy_of(view.spec), now, view.protected(protected))
    unread = {s.id for s in view.all if s.status == "unread"}
    if not unread:
        return assumed, frozenset()
    if assumed.to_delete:
        return assumed, frozenset(unread)
    newest_first = sorted(view.managed, key=lambda s: (s.create_time_ms, s.id), reverse=True)
    needed = {s.id for s in newest_first[:1] if s.id in unread}
    maybe = next((s for s in newest_first if s.status in ("complete", "unread")), None)
    if maybe is not None and maybe.id in unread:
        needed.add(maybe.id)
    return assumed, frozenset(needed)


def statuses_needed(manifest: Manifest, live: LiveState, now: datetime) -> frozenset[str]:
    """Unread snapshots whose status a decision of this plan depends on (all series)."""
    protected = in_use(live)
    needed: set[str] = set()
    for view in series_views(manifest, live):
        needed |= unread_that_matter(view, now, protected)
    return frozenset(needed)


def orphan_series_snapshots(manifest: Manifest, live: LiveState) -> list[LiveSnapshot]:
    """Snapshots of this stack whose series the manifest no longer names.

    Snapshots of no series (final snapshots of devboxes without one) are kept: they were
    asked for by `snapshot_before_destroy`, and only `destroy` removes them. Error snapshots
    the API refused to delete are left out (see `refused_deletes`).
    """
    return [
        s
        for s in live.snapshots
        if s.metadata.get(KEY_STACK) == live.stack
        and s.series is not None
        and s.series not in manifest.snapshots
        and s.status != "deleted"
        and not s.delete_refused
    ]


def refused_deletes(live: LiveState) -> list[LiveSnapshot]:
    """Snapshots of this stack that ended in error and that the API refused to delete: left in
    place (the API keeps them), never planned for deletion again."""
    return sorted(
        (s for s in live.snapshots if s.metadata.get(KEY_STACK) == live.stack and s.delete_refused),
        key=lambda s: (s.create_time_ms, s.id),
    )
