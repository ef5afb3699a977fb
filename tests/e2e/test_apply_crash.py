"""`rlstate apply` killed (SIGKILL) at several points, then run again: it converges with no
duplicates and no leftovers. Each point is reached by watching the run's JSON events."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apply_support import (
    by_name,
    converged,
    objects,
    rlstate,
    sdk,
    snapshots,
    start,
    summary,
    workdir,
)

Event = dict[str, Any]
CRASH_POINTS: list[tuple[str, Callable[[Event], bool]]] = [
    ("while-uploading", lambda e: "uploading" in e.get("message", "")),
    (
        "devbox-create-sent",
        lambda e: e.get("id") == "create devbox.builder" and e["state"] == "waiting",
    ),
    ("mid-setup", lambda e: "setup 2/3" in e.get("message", "")),
    ("snapshot-in-progress", lambda e: "in_progress" in e.get("message", "")),
    ("first-restore-started", lambda e: e.get("id") == "restore devbox.worker-0"),
]


def _kill_at(server: Any, work: Path, point: Callable[[Event], bool]) -> list[Event]:
    proc = start(server, work, "apply", "combined.yaml", "--yes", "--json")
    seen: list[Event] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            seen.append(event)
            if event.get("event") == "action" and point(event):
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the crash point: {seen[-3:]}"
    return seen


@pytest.mark.parametrize("point", [p for _, p in CRASH_POINTS], ids=[n for n, _ in CRASH_POINTS])
def test_a_killed_apply_converges_on_the_next_run(
    local_server: Any, tmp_path: Path, point: Callable[[Event], bool]
) -> None:
    local_server.control(
        "/_local/speed", {"transition_seconds": 0.3, "snapshot_extra_seconds": 0.5}
    )
    work = workdir(tmp_path)
    _kill_at(local_server, work, point)
    assert (work / ".rlstate" / "combined.lock").exists()  # left behind by the kill: stale

    again = rlstate(local_server, work, "apply", "combined.yaml", "--yes", "--json")

    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert summary(again.stdout)["result"] == "converged"
    assert converged(local_server, work, "combined.yaml")
    client = sdk(local_server)
    assert set(by_name(client, "combined")) == {"builder", "worker-0", "worker-1"}
    assert sorted(o.state for o in objects(client, "combined")) == ["READ_ONLY", "READ_ONLY"]
    statuses = {
        client.devboxes.disk_snapshots.query_status(s.id).status
        for s in snapshots(client, "combined")
    }
    assert statuses == {"complete"}
    assert not (work / ".rlstate" / "combined.lock").exists()


def test_a_replace_killed_between_new_ready_and_old_shut_down_converges(
    local_server: Any, tmp_path: Path
) -> None:
    local_server.control("/_local/speed", {"snapshot_extra_seconds": 1.0})
    work = workdir(tmp_path)
    assert rlstate(local_server, work, "apply", "combined.yaml", "--yes").returncode == 0
    old = by_name(sdk(local_server), "combined")["builder"].id
    manifest = work / "combined.yaml"
    manifest.write_text(manifest.read_text().replace("LOG_LEVEL: debug", "LOG_LEVEL: trace"))

    # The replacement is ready; the old builder's final snapshot is being taken.
    seen = _kill_at(
        local_server,
        work,
        lambda e: e.get("id") == "replace devbox.builder" and old in e.get("message", ""),
    )
    assert any(e.get("id") == "replace devbox.builder" for e in seen)
    again = rlstate(local_server, work, "apply", "combined.yaml", "--yes", "--json")

    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert converged(local_server, work, "combined.yaml")
    boxes = by_name(sdk(local_server), "combined")
    assert set(boxes) == {"builder", "worker-0", "worker-1"}
    assert boxes["builder"].id != old
