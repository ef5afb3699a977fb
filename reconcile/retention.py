"""Snapshot retention policy engine: which snapshots of a series to keep, and why; pure, no I/O.

`decide_retention` gives one verdict (keep or remove, with every reason) per snapshot; the
caller deletes. It never reads the clock or the API: snapshots, policy and `now` are passed in.

Counting follows restic's `forget`: newest first, in UTC; for each of the N most recent periods
(hour, day, ISO week, month, year) that have a snapshot, the newest snapshot of that period is
kept; the union of all rules is kept. Differences from restic, on purpose:

- only `complete` snapshots count toward rules (also `last`);
- `within` is measured back from the newest complete snapshot (or from `now` if that one is
  dated in the future), and its edge is inclusive;
- restic also keeps the oldest snapshot while a rule has counts left; we keep only the newest
  of each period, as the manifest says;
- never removed: snapshots in progress, the newest complete one, protected ones, `error` ones
  not older than the newest complete; any `unknown` status refuses the whole decision (so
  does an empty policy, which the manifest already rejects);
- an `error` snapshot the API already refused to delete (`delete_refused`; the API keeps
  snapshots that ended in error) is left alone: a verdict with `left`, neither kept by a rule
  nor removed, so the same refused delete is not asked for again;
- a snapshot marked for deletion (`delete_after`, a prune with a grace period) does not count
  toward any rule: it stays, `scheduled`, until its time, and is removed from then on (unless
  protected, or it is the newest complete snapshot of all).

Applying a decision and deciding again removes nothing more: each rule's kept snapshots are
the newest of their periods, so the same periods and anchor survive the prune.

Snapshots already `deleted` get keep=False with the reason "already deleted": they are not
acted on. Callers delete only `RetentionDecision.to_delete`, never `removed` blindly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Literal

SnapshotStatusName = Literal["in_progress", "complete", "error", "deleted", "unknown"]

_NO_PROTECTION: Mapping[str, str] = MappingProxyType({})
_STATUSES = frozenset(("in_progress", "complete", "error", "deleted", "unknown"))


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got {value.isoformat()}")


@dataclass(frozen=True)
class SnapshotRecord:
    """One snapshot of a series as the engine sees it; `status` "unknown" means unreadable."""

    id: str
    created: datetime
    status: SnapshotStatusName
    size_bytes: int | None = None
    delete_refused: bool = False  # the API refused to delete it (only read for `error` ones)
    delete_after: datetime | None = None  # marked by a prune with a grace period

    def __post_init__(self) -> None:
        _require_aware(self.created, f"snapshot {self.id}: created")
        if self.delete_after is not None:
            _require_aware(self.delete_after, f"snapshot {self.id}: delete_after")
        if self.status not in _STATUSES:
            raise ValueError(f"snapshot {self.id}: unknown status name {self.status!r}")


LEFT_REASON = "ended in error; the API refused to delete it"
_COUNT_RULES = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


@dataclass(frozen=True)
class RetentionPolicy:
    """A series' `keep:` rules; the union of all rules is kept. Zero means "rule not set"."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: timedelta | None = None

    def __post_init__(self) -> None:
        for name in _COUNT_RULES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"keep.{name} must be a whole number >= 0, got {value!r}")
        if self.within is not None and self.within < timedelta(0):
            raise ValueError(f"keep.within must not be negative, got {self.within}")

    def is_empty(self) -> bool:
        """True when no rule keeps anything (no rule, or only zeros)."""
        no_counts = all(getattr(self, name) == 0 for name in _COUNT_RULES)
        return no_counts and not self.within

    def is_keep_latest(self) -> bool:
        """True for `keep: {last: 1}` alone: a cleanup that keeps only the newest snapshot."""
        return self == RetentionPolicy(last=1)

    def describe(self) -> str:
        """The policy as a phrase, e.g. "keep last 3, daily 7, weekly 4, within 2d"."""
        if self.is_empty():
            return "no rule"
        if self.is_keep_latest():
            return "keep latest only"
        parts = [f"{f.name} {getattr(self, f.name)}" for f in fields(self) if f.name != "within"]
        parts = [p for p in parts if not p.endswith(" 0")]
        if self.within:
            parts.append(f"within {format_duration(self.within)}")
        return "keep " + ", ".join(parts)


@dataclass(frozen=True)
class Verdict:
    """Keep or remove one snapshot, with every reason that applies (for people, not decisions).

    `left`: an `error` snapshot the API refused to delete, left in place (keep is True so no
    caller deletes it, but it is not counted as kept). `scheduled`: marked for deletion at that
    time and not yet due (keep is True; not counted as kept either)."""

    snapshot: SnapshotRecord
    keep: bool
    reasons: tuple[str, ...]
    left: bool = False
    scheduled: datetime | None = None


@dataclass(frozen=True)
class RetentionDecision:
    """One verdict per input snapshot, newest first (ties by id); `refused` means keep all."""

    verdicts: tuple[Verdict, ...]
    refused: str | None = None
    policy: RetentionPolicy | None = None

    @property
    def kept(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.keep and not v.left and v.scheduled is None)

    @property
    def scheduled(self) -> tuple[Verdict, ...]:
        """Snapshots marked for deletion whose time has not come: neither kept nor removed."""
        return tuple(v for v in self.verdicts if v.keep and v.scheduled is not None)

    @property
    def left(self) -> tuple[Verdict, ...]:
        """Error snapshots the API refused to delete: neither kept nor removed."""
        return tuple(v for v in self.verdicts if v.left)

    @property
    def removed(self) -> tuple[Verdict, ...]:
        """Verdicts with keep=False, including snapshots that are already deleted."""
        return tuple(v for v in self.verdicts if not v.keep)

    @property
    def to_delete(self) -> tuple[Verdict, ...]:
        """The removals a caller acts on: `removed` without the already deleted ones."""
        return tuple(v for v in self.removed if v.snapshot.status != "deleted")

    def summary(self) -> str:
        """One line, e.g. "keep 10, remove 3" or "keep latest only: keep 1, remove 4"."""
        gone = len(self.removed) - len(self.to_delete)
        text = f"keep {len(self.kept)}, remove {len(self.to_delete)}"
        if gone:
            text += f", {gone} already deleted"
        if self.left:
            text += f", {len(self.left)} left ({LEFT_REASON})"
        if self.scheduled:
            text += f", {len(self.scheduled)} scheduled for deletion"
        if self.refused is not None:
            return f"{text}; prune refused: {self.refused}"
        if self.policy is not None and self.policy.is_keep_latest():
            return f"keep latest only: {text}"
        return text


def format_duration(value: timedelta) -> str:
    """A duration as every message shows it, in manifest units, largest first and never in
    weeks: 2d, 36h → 1d12h, 2w → 14d, 90s → 1m30s."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            out.append(f"{amount}{unit}")
    return "".join(out)


def _iso_week(t: datetime) -> str:
    year, week, _ = t.isocalendar()
    return f"{year}-W{week:02d}"


# Calendar rules: (policy field, period label of a UTC time). Labels sort like the periods do,
# so "a new period" is simply "a label different from the previous (newer) snapshot's".
_PERIODS: tuple[tuple[str, Callable[[datetime], str]], ...] = (
    ("hourly", lambda t: t.strftime("%Y-%m-%d %H:00")),
    ("daily", lambda t: t.strftime("%Y-%m-%d")),
    ("weekly", _iso_week),
    ("monthly", lambda t: t.strftime("%Y-%m")),
    ("yearly", lambda t: f"{t.year:04d}"),
)


def _sorted_newest_first(snapshots: Iterable[SnapshotRecord]) -> list[SnapshotRecord]:
    by_id = sorted(snapshots, key=lambda s: s.id)
    seen: set[str] = set()
    for snap in by_id:
        if snap.id in seen:
            raise ValueError(f"snapshot {snap.id} appears more than once")
        seen.add(snap.id)
    # Stable sort, so equal times stay in id order; aware datetimes compare as instants.
    return sorted(by_id, key=lambda s: s.created, reverse=True)


def _rule_reasons(
    complete: list[SnapshotRecord], policy: RetentionPolicy, now: datetime
) -> dict[str, list[str]]:
    """Reasons from the counting rules, for complete snapshots sorted newest first."""
    reasons: dict[str, list[str]] = {s.id: [] for s in complete}
    for index, snap in enumerate(complete[: policy.last]):
        reasons[snap.id].append(f"last {index + 1}/{policy.last}")
    for name, label_of in _PERIODS:
        count: int = getattr(policy, name)
        used, previous = 0, ""
        for snap in complete:
            if used == count:
                break
            label = label_of(snap.created.astimezone(UTC))
            if label != previous:
                used += 1
                previous = label
                reasons[snap.id].append(f"{name} {used}/{count} ({label})")
    if policy.within and complete:
        # Measured back from the newest complete snapshot, so a series whose cron stopped is
        # not wiped when it runs again; from now if that one is dated in the future (clock
        # skew), which would otherwise shrink the window.
        newest = complete[0].created
        anchor, name = (newest, "the newest complete") if newest <= now else (now, "now")
        text = f"within {format_duration(policy.within)} of {name}"
        for snap in complete:
            if snap.created >= anchor - policy.within:
                reasons[snap.id].append(text)
    return reasons


def _status_reasons(
    snap: SnapshotRecord, newest_complete: SnapshotRecord | None
) -> tuple[bool, list[str]]:
    """Keep-or-not and reasons that follow from the status alone (rules aside)."""
    if snap.status == "in_progress":
        return True, ["in progress"]
    if snap.status == "error":
        if newest_complete is None:
            return True, ["error, no complete snapshot yet"]
        if snap.created > newest_complete.created:
            return True, ["error, newer than the newest complete"]
        if snap.created == newest_complete.created:
            return True, ["error, as new as the newest complete"]
        return False, ["error, older than the newest complete"]
    if newest_complete is not None and snap.id == newest_complete.id:
        return True, ["newest complete"]
    return False, []


def scheduled_reason(when: datetime) -> str:
    """How a marked snapshot is described: "scheduled for deletion at 2031-01-28 02:00Z"."""
    return f"scheduled for deletion at {when.astimezone(UTC).strftime('%Y-%m-%d %H:%MZ')}"


def _judge_marked(
    snap: SnapshotRecord, when: datetime, now: datetime, guard: str | None, newest: bool
) -> Verdict:
    """A snapshot marked for deletion: stays until `when`, then goes (unless it must stay)."""
    text = scheduled_reason(when)
    if guard is not None or newest:
        held = (guard or "protected") if guard is not None else "newest complete of all"
        return Verdict(snap, keep=True, reasons=(text, f"held: {held}"))
    if now < when:
        return Verdict(snap, keep=True, reasons=(text,), scheduled=when)
    return Verdict(snap, keep=False, reasons=(f"{text}; its grace period has ended",))


def _judge(
    snap: SnapshotRecord,
    newest_complete: SnapshotRecord | None,
    rule_reasons: list[str],
    protected: Mapping[str, str],
) -> Verdict:
    if snap.status == "deleted":
        return Verdict(snap, keep=False, reasons=("already deleted",))
    if snap.status == "error" and snap.delete_refused:
        return Verdict(snap, keep=True, reasons=(LEFT_REASON,), left=True)
    keep, status_reasons = _status_reasons(snap, newest_complete)
    guard = protected.get(snap.id)
    if guard is not None:
        if not keep:
            status_reasons = []  # protection overrides "error, older than the newest complete"
        status_reasons.append(guard or "protected")
        keep = True
    reasons = [*rule_reasons, *status_reasons]
    keep = keep or bool(rule_reasons)
    return Verdict(snap, keep=keep, reasons=tuple(reasons or ["not kept by any rule"]))


def _refuse(
    ordered: list[SnapshotRecord], why: str, unreadable: set[str], policy: RetentionPolicy
) -> RetentionDecision:
    verdicts = []
    for snap in ordered:
        if snap.status == "error" and snap.delete_refused:
            verdicts.append(Verdict(snap, keep=True, reasons=(LEFT_REASON,), left=True))
            continue
        reason = "status could not be read" if snap.id in unreadable else "prune refused"
        extra = ("already deleted",) if snap.status == "deleted" else ()
        verdicts.append(Verdict(snap, keep=True, reasons=(*extra, reason)))
    return RetentionDecision(verdicts=tuple(verdicts), refused=why, policy=policy)


def decide_retention(
    snapshots: Iterable[SnapshotRecord],
    policy: RetentionPolicy,
    now: datetime,
    protected: Mapping[str, str] = _NO_PROTECTION,
) -> RetentionDecision:
    """Keep or remove each snapshot of one series under `policy`, with reasons; deletes nothing.

    `protected` maps snapshot id -> why it must stay (e.g. "in use by devbox.worker-0").
    Any `unknown` status, or an empty policy, refuses: every verdict is keep (fail closed).
    """
    _require_aware(now, "now")
    ordered = _sorted_newest_first(snapshots)
    unreadable = {s.id for s in ordered if s.status == "unknown"}
    if unreadable:
        names = ", ".join(sorted(unreadable))
        why = f"status of {names} could not be read"
        return _refuse(ordered, why, unreadable, policy)
    if policy.is_empty():
        return _refuse(ordered, "the policy has no rule", set(), policy)
    every_complete = [s for s in ordered if s.status == "complete"]
    complete = [s for s in every_complete if s.delete_after is None]
    newest_complete = complete[0] if complete else None
    newest_of_all = every_complete[0].id if every_complete else None
    rule_reasons = _rule_reasons(complete, policy, now)
    verdicts = []
    for snap in ordered:
        if snap.delete_after is not None and snap.status == "complete":
            guard = protected.get(snap.id)
            newest = snap.id == newest_of_all and newest_complete is None
            verdicts.append(_judge_marked(snap, snap.delete_after, now, guard, newest))
        else:
            verdicts.append(_judge(snap, newest_complete, rule_reasons.get(snap.id, []), protected))
    return RetentionDecision(verdicts=tuple(verdicts), refused=None, policy=policy)


def is_snapshot_due(
    snapshots: Iterable[SnapshotRecord], every: timedelta | None, now: datetime
) -> bool:
    """Whether a series needs a new snapshot now.

    Due when there is no complete snapshot, or the newest complete one is at least `every` old,
    less a small slack for cron jitter (`due_slack`; `every` None: only when none exists).
    Not due while a snapshot newer than the newest complete one is in progress. `error`,
    `deleted` and `unknown` snapshots are ignored: an unreadable status must not stop a series
    from ever being snapshotted again.
    """
    _require_aware(now, "now")
    ordered = _sorted_newest_first(snapshots)
    newest_complete = next((s for s in ordered if s.status == "complete"), None)
    for snap in ordered:
        if snap.status == "in_progress" and (
            newest_complete is None or snap.created > newest_complete.created
        ):
            return False
    if newest_complete is None:
        return True
    if every is None:
        return False
    return now - newest_complete.created >= every - due_slack(every)


def due_slack(every: timedelta) -> timedelta:
    """How much earlier than `every` a snapshot counts as due: a tenth, at most an hour.

    A nightly cron with `every: 24h` starts a little earlier each night than the snapshot it
    took the night before was stamped; without slack every other night would be skipped.
    """
    return min(every / 10, timedelta(hours=1))
