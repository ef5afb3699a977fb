"""How a retention decision is carried out: the shrink guard, and mark-or-delete under a grace
period. Pure: decisions and `now` in, data out; no clock, no API.

The shrink guard: a run that would prune more than `max_prune` of a series' complete snapshots
at once (a typo in `keep`, a clock that jumped) refuses the series' prune unless allowed. It
counts only what this run newly prunes: snapshots whose grace period ended were counted on the
run that marked them.

Grace: with `prune.grace`, a prune marks a snapshot `rlstate.delete_after=<now + grace>`
instead of deleting it; a marked snapshot past its time is deleted. Without grace, or for a
snapshot that ended in error (there is nothing to restore from it), the prune deletes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reconcile.retention import RetentionDecision, Verdict

ALLOW_FLAG = "--allow-shrink"


@dataclass(frozen=True)
class ShrinkRefusal:
    """Why a series' prune was refused: it would take too large a share at once."""

    series: str
    pruned: int
    complete: int
    limit: float

    @property
    def share(self) -> float:
        return self.pruned / self.complete if self.complete else 0.0

    def message(self, outcome: str = "nothing pruned") -> str:
        return (
            f"snapshot.{self.series}: would prune {self.pruned} of {self.complete} complete "
            f"snapshots ({self.share:.0%}), more than max_prune {self.limit:.0%}; "
            f"{outcome} (pass {ALLOW_FLAG} to prune anyway)"
        )

    def allowed(self) -> str:
        """The note of a plan whose prune passed the guard only because it was allowed."""
        return (
            f"snapshot.{self.series}: prunes {self.pruned} of {self.complete} complete "
            f"snapshots ({self.share:.0%}), more than max_prune {self.limit:.0%}, "
            f"allowed by {ALLOW_FLAG}"
        )

    def to_json(self) -> dict[str, object]:
        """What a plan file and `--json` say of it: the numbers, the flag, the message."""
        return {
            "series": self.series,
            "pruned": self.pruned,
            "complete": self.complete,
            "limit": self.limit,
            "flag": ALLOW_FLAG,
            "message": self.message(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ShrinkRefusal:
        """Read back what `to_json` wrote (TypeError/KeyError/ValueError when it is not that)."""
        series, pruned, complete, limit = (
            data["series"],
            data["pruned"],
            data["complete"],
            data["limit"],
        )
        if not (
            isinstance(series, str)
            and isinstance(pruned, int)
            and isinstance(complete, int)
            and isinstance(limit, int | float)
        ):
            raise TypeError(f"shrink refusal {data!r} is not series/pruned/complete/limit")
        return cls(series, pruned, complete, float(limit))


def newly_pruned_complete(decision: RetentionDecision) -> int:
    """Complete snapshots this decision removes that no earlier prune marked."""
    return sum(
        1
        for v in decision.to_delete
        if v.snapshot.status == "complete" and v.snapshot.delete_after is None
    )


def shrink_refusal(series: str, decision: RetentionDecision, limit: float) -> ShrinkRefusal | None:
    """A refusal when `decision` prunes more than `limit` (0..1) of the complete snapshots that
    count (unmarked ones); None when it is within the limit or refused already."""
    if decision.refused is not None:
        return None
    complete = sum(
        1
        for v in decision.verdicts
        if v.snapshot.status == "complete" and v.snapshot.delete_after is None
    )
    pruned = newly_pruned_complete(decision)
    if complete == 0 or pruned / complete <= limit:
        return None
    return ShrinkRefusal(series, pruned, complete, limit)


def refuse(decision: RetentionDecision, why: str) -> RetentionDecision:
    """`decision` with every removal turned into a keep, saying `why`; `refused` set."""

    def hold(v: Verdict) -> Verdict:
        if v.keep or v.snapshot.status == "deleted":
            return v
        return replace(v, keep=True, reasons=(*v.reasons, why))

    return replace(decision, verdicts=tuple(hold(v) for v in decision.verdicts), refused=why)


def guard_shrink(
    series: str, decision: RetentionDecision, limit: float, allow: bool
) -> tuple[RetentionDecision, ShrinkRefusal | None]:
    """The decision to carry out, and the refusal when the guard stopped it."""
    refusal = None if allow else shrink_refusal(series, decision, limit)
    if refusal is None:
        return decision, None
    why = f"prune refused: more than max_prune {limit:.0%} at once"
    return refuse(decision, why), refusal


@dataclass(frozen=True)
class PruneStep:
    """One snapshot a prune acts on: `mark` (with its delete_after time) or `delete`."""

    snapshot_id: str
    kind: str  # "mark" or "delete"
    reasons: tuple[str, ...]
    delete_after: datetime | None = None


def prune_steps(
    decision: RetentionDecision, grace: timedelta | None, now: datetime
) -> list[PruneStep]:
    """What carrying out `decision` does, per snapshot: mark (grace, complete, unmarked) or
    delete. A refused decision does nothing."""
    if decision.refused is not None:
        return []
    steps = []
    for v in decision.to_delete:
        snap = v.snapshot
        if grace and snap.status == "complete" and snap.delete_after is None:
            when = now + grace
            steps.append(PruneStep(snap.id, "mark", v.reasons, when))
        else:
            steps.append(PruneStep(snap.id, "delete", v.reasons))
    return steps


def format_bytes(size: int) -> str:
    """1.5 GiB, 300 MiB, 12 B: binary units, one decimal from KiB up."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # not reached


def prune_cost(
    series: str, decision: RetentionDecision, keep_changed: bool, stopped: bool = False
) -> str | None:
    """What a decision's prunes cost, for the plan: "keep change prunes 37 snapshots (12.4 GiB)
    of snapshot.nightly" ("would prune" when `stopped`: the shrink guard held it back); None when it
    prunes nothing."""
    gone = [v.snapshot for v in decision.to_delete]
    if not gone:
        return None
    sizes = [s.size_bytes for s in gone if s.size_bytes is not None]
    if len(sizes) == len(gone):
        held = format_bytes(sum(sizes))
    else:
        held = f"at least {format_bytes(sum(sizes))}" if sizes else "size unknown"
    noun = "snapshot" if len(gone) == 1 else "snapshots"
    verb = "would prune" if stopped else "prunes"
    lead = f"keep change {verb}" if keep_changed else verb
    return f"{lead} {len(gone)} {noun} ({held}) of snapshot.{series}"
