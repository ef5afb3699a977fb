"""Plans and retention decisions as text or JSON for people and machines; decides nothing.

Values that came from `${env:}` are never shown: they print as "(sensitive)".
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from reconcile.plan.model import Action, Plan, RetentionRow
from reconcile.plan.params import DevboxCreate

if TYPE_CHECKING:
    from reconcile.apply.events import Event
    from reconcile.apply.retain_run import RetainReport

SENSITIVE = "(sensitive)"
_SUMMARY_WORDS = (
    ("adopt", "to adopt"),
    ("build", "to build"),
    ("create", "to create"),
    ("restore", "to restore"),
    ("update", "to update"),
    ("suspend", "to suspend"),
    ("resume", "to resume"),
    ("replace", "to replace"),
    ("delete", "to delete"),
    ("snapshot", "to snapshot"),
    ("prune", "to prune"),
    ("mark", "to schedule for deletion"),
)


def mask(value: Any) -> Any:
    """Replace every string that holds an `${env:}` reference by "(sensitive)"."""
    if isinstance(value, str):
        return SENSITIVE if "${env:" in value else value
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value


def action_line(action: Action) -> str:
    """`-/+ replace devbox.api (forced by env)` — symbol, kind, address, id, reasons."""
    target = action.address
    if action.kind in ("prune", "delete") and action.resource in ("snapshot", "blueprint"):
        target = f"{action.address} {action.resource_id}"
    elif action.kind in ("delete", "adopt") and action.resource_id:
        target = f"{action.address} ({action.resource_id})"
    if action.kind == "adopt":
        return f"{action.symbol:>3} {action.kind} {target}"  # its reasons are detail lines
    reasons = f" ({'; '.join(action.reasons)})" if action.reasons else ""
    return f"{action.symbol:>3} {action.kind} {target}{reasons}"


def _detail_lines(action: Action) -> list[str]:
    lines = [f"note: {reason}" for reason in action.reasons if action.kind == "adopt"]
    for change in action.changes:
        if change.field in ("metadata", "name", "moved", "prevent_destroy"):
            from reconcile.plan.diffing import describe_change

            lines.extend(describe_change(change.field, change.before, change.after))
    body = action.params.body if isinstance(action.params, DevboxCreate) else {}
    env = body.get("environment_variables") or {}
    for key, value in sorted(mask(env).items()):
        lines.append(f"env.{key} = {value}")
    return [f"      {line}" for line in lines]


def where(api_url: str) -> str:
    """The API a plan was made against, as people say it (the local backend's port is noise)."""
    if not api_url or api_url.startswith(("local:", "http://127.0.0.1:", "http://localhost:")):
        return "local backend"
    return api_url


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    if not counts:
        return "No changes."
    parts = [f"{counts[k]} {words}" for k, words in _SUMMARY_WORDS if k in counts]
    return f"Plan: {', '.join(parts)}."


def render_plan_text(plan: Plan, *, details: bool = True) -> str:
    """The human plan: one line per action (with details), refusals, then the summary."""
    lines = [f"Stack {plan.stack} ({where(plan.api_url)})"]
    if not plan.actions:
        held = plan.shrink_refused
        lines.append(
            "No changes planned: the shrink guard holds back the prunes below."
            if held
            else "No changes. The live state matches the manifest."
        )
        lines.extend(shrink_lines(plan))
        lines.extend(left_behind_lines(plan))
        lines.extend(f"  note: {note}" for note in plan.notes)
        return "\n".join(lines)
    lines.append("")
    for action in plan.actions:
        lines.append(action_line(action))
        if details:
            lines.extend(_detail_lines(action))
    for refusal in plan.refusals:
        lines.append(f"  ! refused: {refusal.message}")
    lines.extend(shrink_lines(plan))
    lines.extend(left_behind_lines(plan))
    lines.extend(f"  note: {note}" for note in plan.notes)
    lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines)


def shrink_lines(plan: Plan) -> list[str]:
    """The series whose prune the shrink guard holds back, one line each."""
    return [f"  ! refused: {r.message('no prune planned for it')}" for r in plan.shrink_refused]


def left_behind_lines(plan: Plan) -> list[str]:
    """What the plan leaves in place because the API refuses to delete it, one line each."""
    return [
        f"  left in place: {item.address} {item.resource_id} ({item.reason})"
        for item in plan.left_behind
    ]


def plan_to_json(plan: Plan) -> str:
    """The plan as one JSON document (sensitive values masked as in the plan file)."""
    data = plan.to_dict()
    data["summary"] = {
        "counts": plan.counts(),
        "text": summary_line(plan),
        "changes": plan.has_changes,
        "refused": len(plan.refusals),
    }
    if plan.shrink_refused:  # the series are in data["shrink_refused"]; said only when any
        data["summary"]["shrink_refused"] = len(plan.shrink_refused)
    return json.dumps(mask(data), indent=2)


def retention_table(rows: list[RetentionRow] | tuple[RetentionRow, ...]) -> str:
    """Per series: each snapshot kept or pruned, with its reasons and size when known."""
    out: list[str] = []
    series = sorted({r.series for r in rows})
    for name in series:
        out.append(f"snapshot.{name}")
        for row in (r for r in rows if r.series == name):
            mark = (
                "left "
                if row.left
                else "sched"
                if row.scheduled
                else "keep "
                if row.keep
                else "prune"
            )
            size = f" {_size(row.size_bytes)}" if row.size_bytes is not None else ""
            foreign = " (unmanaged)" if not row.managed else ""
            out.append(
                f"  {mark} {row.snapshot_id} {row.created[:19]}Z {row.status}{size}"
                f"{foreign}  {', '.join(row.reasons)}"
            )
    return "\n".join(out)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{size}B"


def retain_planned(action: Action) -> tuple[dict[str, Any], str | None]:
    """--dry-run: the `planned` event of an action a real retain would take, and its line (a
    prune has none: the table shows it)."""
    data: dict[str, Any] = {
        "event": "action",
        "id": action.id,
        "address": action.address,
        "kind": action.kind,
        "state": "planned",
        "message": "; ".join(action.reasons),
    }
    if action.kind in ("prune", "mark"):
        data["snapshot"] = action.resource_id
        return data, None
    return data, f"{action.address}: would take a snapshot ({action.reasons[0]})"


def retain_ran(event: Event, action: Action | None) -> tuple[dict[str, Any], str | None] | None:
    """An executor event of a retain run as its JSON event and line (a done prune has no line:
    the table shows it); None for the events retain does not show (started, waiting, summary)."""
    from reconcile.apply.events import ActionEvent, ThrottledEvent

    if isinstance(event, ThrottledEvent):
        return event.to_json(), f"{event.address}: {event.message}"
    if not isinstance(event, ActionEvent) or event.state not in ("done", "failed", "skipped"):
        return None
    data = event.to_json()
    if event.kind in ("prune", "mark"):
        data["snapshot"] = (action.resource_id or "") if action else None
    text = event.message
    if not text.startswith(event.address):
        text = f"{event.address}: {text}"
    return data, None if event.kind in ("prune", "mark") and event.state == "done" else text


def retain_summary(report: RetainReport, dry_run: bool) -> dict[str, Any]:
    """retain's last JSON event: counts a cron wrapper checks, and why anything failed."""
    return {
        "event": "summary",
        "result": report.result,
        "dry_run": dry_run,
        "taken": len(report.taken),
        "pruned": len(report.pruned),
        "marked": len(report.marked),
        "scheduled": report.scheduled,
        "kept": report.kept,
        "left": report.left_in_place,
        "failed": len(report.failed),
        "failures": [{"id": i, "reason": why} for i, why in report.failed],
        "refused": report.refused,
        "error": report.error,
        "requests": report.requests,
        "elapsed_s": report.elapsed_s,
        "throttled": report.throttled,
        "peak_concurrency": report.peak_concurrency,
    }


def retain_series(report: RetainReport) -> list[dict[str, Any]]:
    """Per series: its policy in words and how many snapshots stay and go."""
    rows = report.plan.retention if report.plan else ()
    gone = set(report.pruned)
    out = []
    for item in report.prunes:
        mine = [r for r in rows if r.series == item.series]
        policy = item.decision.policy
        out.append(
            {
                "event": "series",
                "series": item.series,
                "policy": policy.describe() if policy else "",
                "kept": sum(1 for r in mine if r.keep and not r.left and not r.scheduled),
                "scheduled": sum(1 for r in mine if r.scheduled),
                "pruned": sum(1 for r in mine if r.snapshot_id in gone),
                "left": sum(1 for r in mine if r.left),
                "refused": item.decision.refused,
            }
        )
    return out


def retention_row_json(row: RetentionRow) -> dict[str, Any]:
    """One row of the retention table as a `retention` JSON event."""
    return {
        "event": "retention",
        "series": row.series,
        "snapshot": row.snapshot_id,
        "created": row.created,
        "status": row.status,
        "keep": row.keep,
        "left": row.left,
        "reasons": list(row.reasons),
        "size_bytes": row.size_bytes,
        "managed": row.managed,
        "scheduled_for": row.scheduled,
    }


def retain_text(report: RetainReport, lines: list[str], dry_run: bool) -> str:
    """retain's plain output: the run's `lines`, the table, a line per series, the summary."""
    lines = list(lines)
    if report.plan and report.plan.retention:
        lines.append(retention_table(report.plan.retention))
    for info in retain_series(report):
        verb = "would be pruned" if dry_run else "pruned"
        line = f"snapshot.{info['series']} ({info['policy']}): {info['kept']} kept"
        line += f", {info['pruned']} {verb}"
        if info["scheduled"]:
            line += f", {info['scheduled']} scheduled for deletion"
        if info["left"]:
            line += f", {info['left']} left in place (ended in error; the API refuses to delete)"
        if info["refused"]:
            line += f"; prune refused: {info['refused']}"
        lines.append(line)
    s = retain_summary(report, dry_run)
    lines.append(
        f"Retain{' (dry run)' if dry_run else ''}: {'would take' if dry_run else 'took'} "
        f"{s['taken']} snapshot(s), {'would prune' if dry_run else 'pruned'} {s['pruned']}, "
        + (f"scheduled {s['marked']} for deletion, " if s["marked"] else "")
        + f"kept {s['kept']}, failed {s['failed']}"
        + (f", left {s['left']} that ended in error (the API keeps those)." if s["left"] else ".")
    )
    lines.extend(f"error: {action_id}: {reason}" for action_id, reason in report.failed)
    return "\n".join(lines) + "\n"
