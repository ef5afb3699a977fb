"""`rlstate status`: the stack's live resources and their state, drift marked, series ages."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.commands.common import discover, load, make_client
from reconcile.commands.connection import ConnectionSettings, connect
from reconcile.commands.interrupts import run_async
from reconcile.live.model import KEY_STACK, LiveState
from reconcile.plan.model import Plan
from reconcile.retention import format_duration
from reconcile.stamps import verified_at

if TYPE_CHECKING:
    from reconcile.manifest import LoadedManifest


def _age(created_ms: int | None, now: datetime) -> float | None:
    return None if created_ms is None else round(now.timestamp() - created_ms / 1000, 1)


def _series_drift(plan: Plan, address: str) -> str | None:
    """What the plan would do to a series (`snapshot, prune`), or None when nothing."""
    kinds = [a.kind for a in plan.actions if a.resource == "snapshot" and a.address == address]
    return ", ".join(dict.fromkeys(kinds)) or None


def build_status(live: LiveState, plan: Plan, now: datetime) -> dict[str, Any]:
    """A JSON-able report: each owned resource with state and drift, each series' newest age."""
    kinds: dict[str, list[str]] = {}
    for action in plan.actions:
        if action.resource_id:
            kinds.setdefault(action.resource_id, []).append(action.kind)
    drift = {rid: ", ".join(dict.fromkeys(found)) for rid, found in kinds.items()}
    replaced = {a.address for a in plan.actions if a.kind == "replace"}
    resources = []
    for box in live.devboxes:
        if box.active:
            address = f"devbox.{box.logical_name}"
            resources.append(
                {"address": address, "id": box.id, "state": box.status, "drift": drift.get(box.id)}
            )
    for obj in live.objects:
        address = f"object.{obj.logical_name}"
        # A replaced object's old copy is deleted by id; the object itself is replaced.
        kind = "replace" if address in replaced else drift.get(obj.id)
        resources.append({"address": address, "id": obj.id, "state": obj.state, "drift": kind})
    resources += _blueprint_rows(live, plan)
    missing = [a.address for a in plan.actions if a.kind in ("create", "restore")]
    series = _series_rows(live, plan, now)
    return {
        "stack": live.stack,
        "resources": sorted(resources, key=lambda r: _address_order(r["address"])),
        "missing": missing,
        "series": series,
        # a prune the shrink guard holds back leaves the series out of sync
        "in_sync": not plan.has_changes and not plan.shrink_refused,
    }


def _series_rows(live: LiveState, plan: Plan, now: datetime) -> dict[str, dict[str, Any]]:
    """Each declared series, then each removed one whose snapshots the plan deletes: its
    snapshots, newest complete and verified ones, and what the plan would do to it."""
    series: dict[str, dict[str, Any]] = {}
    removed = [a.address for a in plan.actions if a.resource == "snapshot"]
    for name in dict.fromkeys([*plan.desired, *removed]):
        if not name.startswith("snapshot."):
            continue
        info = plan.desired.get(name, {})
        newest = next((s for s in live.snapshots if s.id == info.get("newest_complete")), None)
        members = [
            s
            for s in live.snapshots
            if s.series == name.split(".", 1)[1] and s.metadata.get(KEY_STACK) == live.stack
        ]
        verified = [
            (t, s.id) for s in members if s.status != "deleted" and (t := verified_at(s.metadata))
        ]
        newest_verified = max(verified) if verified else None
        series[name] = {
            "newest_complete": newest.id if newest else None,
            "newest_complete_age_seconds": _age(newest.create_time_ms if newest else None, now),
            "newest_verified": newest_verified[1] if newest_verified else None,
            "newest_verified_age_seconds": (
                round((now - newest_verified[0]).total_seconds(), 1) if newest_verified else None
            ),
            "snapshots": len(members),
            "left_in_error": sum(1 for s in members if s.delete_refused),
            "drift": _series_drift(plan, name),
            "declared": name in plan.desired,
        }
    return series


def _blueprint_rows(live: LiveState, plan: Plan) -> list[dict[str, Any]]:
    """Each declared blueprint: the build its devboxes use, or its newest (drift: build)."""
    building = {a.address for a in plan.actions if a.kind == "build"}
    rows = []
    for address, info in plan.desired.items():
        if not address.startswith("blueprint."):
            continue
        name = address.split(".", 1)[1]
        own = [
            b
            for b in live.blueprints
            if b.logical_name == name and b.metadata.get(KEY_STACK) == live.stack
        ]
        shown = next((b for b in live.blueprints if b.id == info.get("build")), None)
        shown = shown or max(own, key=lambda b: (b.create_time_ms, b.id), default=None)
        rows.append(
            {
                "address": address,
                "id": shown.id if shown else "-",
                "state": shown.status if shown else "absent",
                "drift": "build" if address in building else None,
            }
        )
    return rows


def env_unchecked(loaded: LoadedManifest) -> dict[str, list[str]]:
    """Devbox address → the `${env:}` variables of its env that are not set here."""
    from reconcile.manifest.schema import env_references
    from reconcile.plan.desired import desired_devboxes

    unchecked: dict[str, list[str]] = {}
    for want in desired_devboxes(loaded):
        names = {n for v in want.spec.env.values() for n in env_references(v)} - set(loaded.env)
        if names:
            unchecked[want.address] = sorted(names)
    return unchecked


def without_env_drift(plan: Plan, unchecked: Mapping[str, list[str]]) -> Plan:
    """The plan less the replacements forced by env alone where env could not be compared."""
    kept = tuple(
        a
        for a in plan.actions
        if not (
            a.kind == "replace"
            and a.address in unchecked
            and a.changes
            and all(c.field == "env" for c in a.changes)
        )
    )
    return replace(plan, actions=kept)


def _address_order(address: str) -> tuple[str, str, int]:
    """devbox.worker-2 before devbox.worker-10: a replica's number compares as a number."""
    kind, _, name = address.partition(".")
    stem, dash, number = name.rpartition("-")
    if dash and number.isdigit():
        return kind, stem, int(number)
    return kind, name, -1


def _fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit} ago"
    return f"{seconds:.0f}s ago"


def render_status(report: dict[str, Any]) -> str:
    lines = [f"Stack {report['stack']}: {'in sync' if report['in_sync'] else 'drifted'}"]
    for res in report["resources"]:
        mark = f"  (drift: {res['drift']})" if res["drift"] else ""
        if res["address"] in report.get("unchecked", {}):
            mark += f"  ({report['unchecked'][res['address']]})"
        lines.append(f"  {res['address']:<28} {res['id']:<28} {res['state']}{mark}")
    for address in report["missing"]:
        lines.append(f"  {address:<28} {'-':<28} absent  (drift: create)")
    for name, info in report["series"].items():
        count, left = info["snapshots"], info.get("left_in_error", 0)
        errors = f" ({left} ended in error, which the API keeps)" if left else ""
        mark = f"  (drift: {info['drift']})" if info.get("drift") else ""
        newest = (
            f"newest complete {_fmt_age(info['newest_complete_age_seconds'])}"
            if info.get("declared", True)
            else "not in the manifest"
        )
        lines.append(
            f"  {name:<28} {count} snapshot{'' if count == 1 else 's'}{errors}, {newest}"
            + (
                f", verified {_fmt_age(info['newest_verified_age_seconds'])}"
                if info.get("newest_verified")
                else ""
            )
            + mark
        )
    return "\n".join(lines)


def run(
    manifest_path: Path,
    conn: ConnectionSettings,
    json_out: bool,
    *,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Prints the status report. Ages are measured on the API's clock (`clock` overrides it);
    a host clock more than a minute off is warned about on stderr."""
    from reconcile.plan.planner import build_plan

    loaded = load(manifest_path, need_env=False)  # monitoring runs without the secrets
    with connect(conn, quiet=json_out) as endpoint:

        async def go() -> tuple[LiveState, Plan, datetime, str | None]:
            async with make_client(endpoint) as client:
                now = clock() if clock is not None else None
                live = await discover(client, loaded, now)
                now = now or client.api_clock.now()
                skew = client.api_clock.skew_warning(format_duration)
                return live, build_plan(loaded, live, now), now, skew

        live, plan, now, skew = run_async(go())
    if skew:
        sys.stderr.write(skew + "\n")
    unchecked = env_unchecked(loaded)
    report = build_status(live, without_env_drift(plan, unchecked), now)
    report["unchecked"] = {
        address: f"env not compared: {', '.join(names)} not set"
        for address, names in unchecked.items()
    }
    out = json.dumps(report, indent=2) if json_out else render_status(report)
    sys.stdout.write(out + "\n")
    return 0
