"""Plans and retention decisions as text or JSON for people and machines; decides nothing.

Values that came from `${env:}` are never shown: they print as "(sensitive)".
"""

from __future__ import annotations

import json
from typing import Any

from reconcile.plan.model import Action, Plan, RetentionRow
from reconcile.plan.params import DevboxCreate

SENSITIVE = "(sensitive)"
_SUMMARY_WORDS = (
    ("create", "to create"),
    ("restore", "to restore"),
    ("update", "to update"),
    ("suspend", "to suspend"),
    ("resume", "to resume"),
    ("replace", "to replace"),
    ("delete", "to delete"),
    ("snapshot", "to snapshot"),
    ("prune", "to prune"),
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
    if action.kind in ("prune", "delete") and action.resource == "snapshot":
        target = f"{action.address} {action.resource_id}"
    elif action.kind == "delete" and action.resource_id:
        target = f"{action.address} ({action.resource_id})"
    reasons = f" ({'; '.join(action.reasons)})" if action.reasons else ""
    return f"{action.symbol:>3} {action.kind} {target}{reasons}"


def _detail_lines(action: Action) -> list[str]:
    lines = []
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
        lines.append("No changes. The live state matches the manifest.")
        lines.extend(left_behind_lines(plan))
        return "\n".join(lines)
    lines.append("")
    for action in plan.actions:
        lines.append(action_line(action))
        if details:
            lines.extend(_detail_lines(action))
    for refusal in plan.refusals:
        lines.append(f"  ! refused: {refusal.message}")
    lines.extend(left_behind_lines(plan))
    lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines)


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
    return json.dumps(mask(data), indent=2)


def retention_table(rows: list[RetentionRow] | tuple[RetentionRow, ...]) -> str:
    """Per series: each snapshot kept or pruned, with its reasons and size when known."""
    out: list[str] = []
    series = sorted({r.series for r in rows})
    for name in series:
        out.append(f"snapshot.{name}")
        for row in (r for r in rows if r.series == name):
            mark = "left " if row.left else "keep " if row.keep else "prune"
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
