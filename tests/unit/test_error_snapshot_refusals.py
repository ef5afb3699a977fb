"""Error snapshots the API refuses to delete: the retention engine leaves a marked one alone, and
the prune operation (against the real local backend) ends done on a 409 for an `error` snapshot,
marks it, and still fails on a 409 for any other status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from executor_support import plan_of, prune, run_plan

from reconcile.retention import (
    LEFT_REASON,
    RetentionPolicy,
    SnapshotRecord,
    SnapshotStatusName,
    decide_retention,
)

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)


def _snap(
    name: str, hours_ago: int, status: SnapshotStatusName, refused: bool = False
) -> SnapshotRecord:
    return SnapshotRecord(name, NOW - timedelta(hours=hours_ago), status, delete_refused=refused)


@pytest.mark.parametrize(
    "refused,keep,left,reasons",
    [
        (False, False, False, ("error, older than the newest complete",)),
        (True, True, True, (LEFT_REASON,)),
    ],
    ids=["unmarked-error-is-pruned", "marked-error-is-left"],
)
def test_an_old_error_snapshot(
    refused: bool, keep: bool, left: bool, reasons: tuple[str, ...]
) -> None:
    snaps = [
        _snap("c1", 1, "complete"),
        _snap("e1", 5, "error", refused),
        _snap("c0", 9, "complete"),
    ]
    decision = decide_retention(snaps, RetentionPolicy(last=2), NOW)
    (verdict,) = [v for v in decision.verdicts if v.snapshot.id == "e1"]
    assert (verdict.keep, verdict.left, verdict.reasons) == (keep, left, reasons)
    assert ("e1" in {v.snapshot.id for v in decision.to_delete}) == (not refused)
    assert [v.snapshot.id for v in decision.kept] == ["c1", "c0"]  # never counted as kept
    expected = "keep 2, remove 0, 1 left" if refused else "keep 2, remove 1"
    assert decision.summary().startswith(expected)


def test_the_mark_means_nothing_on_a_complete_snapshot() -> None:
    snaps = [_snap("c1", 1, "complete"), _snap("c0", 9, "complete", refused=True)]
    decision = decide_retention(snaps, RetentionPolicy(last=1), NOW)
    assert [v.snapshot.id for v in decision.to_delete] == ["c0"]
    assert not decision.left


def test_a_refused_decision_still_shows_the_left_one() -> None:
    snaps = [_snap("c1", 1, "complete"), _snap("e1", 5, "error", True), _snap("u", 7, "unknown")]
    decision = decide_retention(snaps, RetentionPolicy(last=1), NOW)
    assert decision.refused is not None and not decision.to_delete
    assert [v.snapshot.id for v in decision.left] == ["e1"]


def _snapshot(server: Any, status: str) -> str:
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
        box = api.post("/v1/devboxes/create_and_await_running", json={"name": "b"}).json()
        if status == "error":
            server.control("/_local/faults", {"snapshot_error_rate": 1.0})
        if status == "in_progress":
            server.control("/_local/speed", {"snapshot_extra_seconds": 30})
        meta = {"rlstate.stack": "t", "rlstate.series": "golden"}
        snap = api.post(
            f"/v1/devboxes/{box['id']}/snapshot_disk_async", json={"metadata": meta}
        ).json()
        server.control("/_local/faults", {"snapshot_error_rate": 0.0})
        assert api.get(f"/v1/devboxes/disk_snapshots/{snap['id']}/status").json()["status"] == (
            status
        )
        return str(snap["id"])


def _metadata(server: Any, snapshot_id: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {server.token}"}
    reply = httpx.get(
        f"{server.url}/v1/devboxes/disk_snapshots/{snapshot_id}/status", headers=headers
    )
    return dict(reply.json()["snapshot"]["metadata"])


def test_a_409_on_an_error_snapshot_leaves_and_marks_it(local_server: Any) -> None:
    failed = _snapshot(local_server, "error")
    run = run_plan(local_server, plan_of(prune("golden", failed)))
    assert run.result.outcome == "converged" and run.result.exit_code == 0
    assert run.result.left_behind == ((f"prune {failed}", LEFT_REASON),)
    (message,) = run.order_messages("done")
    assert "ended in error" in message and "left in place" in message
    assert _metadata(local_server, failed) == {
        "rlstate.stack": "t",
        "rlstate.series": "golden",
        "rlstate.delete_refused": "error",
    }


def test_a_409_on_a_snapshot_in_progress_is_still_a_failure(local_server: Any) -> None:
    running = _snapshot(local_server, "in_progress")
    run = run_plan(local_server, plan_of(prune("golden", running)))
    assert run.result.outcome == "failed" and not run.result.left_behind
    assert "rlstate.delete_refused" not in _metadata(local_server, running)
