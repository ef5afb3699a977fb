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


def test_a_series_says_how_many_of_its_snapshots_the_api_kept_in_error() -> None:
    report = _report([], {"snapshot.s": 3})
    report["series"]["snapshot.s"]["left_in_error"] = 1
    assert "3 snapshots (1 ended in error, which the API keeps), newest" in render_status(report)


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


def test_build_status_counts_the_series_snapshots_left_in_error() -> None:
    from datetime import UTC, datetime

    from reconcile.commands.status import build_status
    from reconcile.live.model import (
        KEY_DELETE_REFUSED,
        KEY_SERIES,
        KEY_STACK,
        LiveSnapshot,
        LiveState,
    )
    from reconcile.plan.model import Plan

    mine = {KEY_STACK: "s", KEY_SERIES: "nightly"}
    snaps = (
        LiveSnapshot("snp_ok", 2000, "dbx_1", mine, status="complete"),
        LiveSnapshot(
            "snp_left", 1000, "dbx_1", {**mine, KEY_DELETE_REFUSED: "error"}, status="error"
        ),
        LiveSnapshot("snp_err", 500, "dbx_1", mine, status="error"),  # not yet refused
    )
    plan = Plan(
        stack="s",
        manifest_path="m",
        manifest_sha256="x",
        created_at="t",
        desired={"snapshot.nightly": {"newest_complete": "snp_ok"}},
    )
    report = build_status(LiveState("s", snapshots=snaps), plan, datetime(2026, 1, 1, tzinfo=UTC))
    assert report["series"]["snapshot.nightly"]["snapshots"] == 3
    assert report["series"]["snapshot.nightly"]["left_in_error"] == 1


def test_only_replacements_forced_by_env_alone_are_dropped_where_env_is_unknown() -> None:
    from reconcile.commands.status import without_env_drift
    from reconcile.plan.model import Action, Change, Plan

    def replace(address: str, *fields: str) -> Action:
        changes = tuple(Change(f, "a", "b", forces_replacement=True) for f in fields)
        return Action(f"replace {address}", "replace", "devbox", address, changes=changes)

    actions = (
        replace("devbox.app", "env"),  # dropped: env of app could not be compared
        replace("devbox.web", "env", "setup"),  # kept: setup differs anyway
        replace("devbox.other", "env"),  # kept: other's env was compared
    )
    plan = Plan(stack="s", manifest_path="m", manifest_sha256="x", created_at="t", actions=actions)
    unchecked = {"devbox.app": ["TOKEN"], "devbox.web": ["TOKEN"]}
    kept = without_env_drift(plan, unchecked).actions
    assert [a.address for a in kept] == ["devbox.web", "devbox.other"]


def test_status_shows_the_newest_verified_age() -> None:
    from datetime import UTC, datetime

    from reconcile.commands.status import build_status, render_status
    from reconcile.live.model import KEY_SERIES, KEY_STACK, KEY_VERIFIED, LiveSnapshot, LiveState
    from reconcile.plan.model import Plan

    now = datetime(2031, 3, 1, 2, 0, tzinfo=UTC)
    meta = {KEY_STACK: "s", KEY_SERIES: "n"}
    snaps = (
        LiveSnapshot(
            "snp_new", int(now.timestamp() * 1000) - 3_600_000, "dbx", meta, status="complete"
        ),
        LiveSnapshot(
            "snp_old", 0, "dbx", {**meta, KEY_VERIFIED: "2031-02-27T02:00:00Z"}, status="complete"
        ),
    )
    plan = Plan(
        stack="s",
        manifest_path="m",
        manifest_sha256="x",
        created_at="t",
        desired={"snapshot.n": {"newest_complete": "snp_new"}},
    )
    report = build_status(LiveState(stack="s", snapshots=snaps), plan, now)
    info = report["series"]["snapshot.n"]
    assert (info["newest_verified"], info["newest_verified_age_seconds"]) == ("snp_old", 172800.0)
    assert "newest complete 1.0h ago, verified 2.0d ago" in render_status(report)


def test_a_series_removed_from_the_manifest_is_listed_with_its_drift() -> None:
    """Its snapshots are deleted by the next apply: status names it instead of only saying
    "drifted"."""
    from datetime import UTC, datetime

    from reconcile.commands.status import build_status, render_status
    from reconcile.live.model import KEY_SERIES, KEY_STACK, LiveSnapshot, LiveState
    from reconcile.plan.model import Action, Plan

    meta = {KEY_STACK: "s", KEY_SERIES: "old"}
    snaps = (LiveSnapshot("snp_a", 0, "dbx", meta, status="complete"),)
    delete = Action("delete snp_a", "delete", "snapshot", "snapshot.old", resource_id="snp_a")
    plan = Plan(
        stack="s", manifest_path="m", manifest_sha256="x", created_at="t", actions=(delete,)
    )
    report = build_status(LiveState(stack="s", snapshots=snaps), plan, datetime.now(UTC))
    assert report["in_sync"] is False
    info = report["series"]["snapshot.old"]
    assert (info["snapshots"], info["drift"], info["declared"]) == (1, "delete", False)
    assert "snapshot.old                 1 snapshot, not in the manifest  (drift: delete)" in (
        render_status(report)
    )
