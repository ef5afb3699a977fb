"""`rlstate status`: resources in address order (replica numbers as numbers), counts in words."""

from __future__ import annotations

from typing import Any

from reconcile.commands.status import render_status


def _report(addresses: list[str], series: dict[str, int]) -> dict[str, Any]:
    resources = [
        {"address": a, "id": f"id-{a}", "state": "running", "drift": None} for a in addresses
    ]
    return {
        "stack": "s",
        "resources": resources,
        "missing": [],
        "series": {
            name: {"snapshots": n, "newest_complete": None, "newest_complete_age_seconds": 90.0}
            for name, n in series.items()
        },
        "in_sync": True,
    }


def test_series_counts_read_as_words() -> None:
    text = render_status(_report([], {"snapshot.one": 1, "snapshot.two": 2, "snapshot.none": 0}))
    assert "snapshot.one                 1 snapshot, newest complete 1.5m ago" in text
    assert "2 snapshots, newest" in text and "0 snapshots, newest" in text


def test_resources_are_listed_by_address_with_replicas_in_number_order() -> None:
    from datetime import UTC, datetime

    from reconcile.commands.status import build_status
    from reconcile.live.model import KEY_NAME, KEY_STACK, LiveDevbox, LiveState
    from reconcile.plan.model import Plan

    names = ["worker-10", "web", "worker-2", "api", "worker-1"]
    boxes = tuple(
        LiveDevbox(f"dbx_{n}", n, "running", 0, {KEY_STACK: "s", KEY_NAME: n}) for n in names
    )
    live = LiveState(stack="s", devboxes=boxes)
    plan = Plan(stack="s", manifest_path="m", manifest_sha256="x", created_at="t")
    report = build_status(live, plan, datetime(2026, 1, 1, tzinfo=UTC))
    assert [r["address"] for r in report["resources"]] == [
        "devbox.api",
        "devbox.web",
        "devbox.worker-1",
        "devbox.worker-2",
        "devbox.worker-10",
    ]
