"""Nights of `rlstate retain` on the local backend's clock, through the command line only: the
shrink guard, the grace period and `undelete`, and `--simulate` against what the nights do.

"Now" is the API's: each test moves the backend's clock (`/_local/clock`) and runs the real CLI
in a subprocess; nothing in-process sets rlstate's time. Results are read with the SDK.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from retain_support import (
    STACK,
    BackendClock,
    managed_builder,
    rlstate,
    sdk,
    series_snapshots,
    summary,
    write_manifest,
)

from tests.helpers import ApiAt, start_rlstate

DAY = 86400.0
DELETE_AFTER = "rlstate.delete_after"


class Nights:
    """The backend's clock one night at a time, and `rlstate` runs against it."""

    def __init__(self, server: Any, folder: Path) -> None:
        self.server, self.folder = server, folder
        self.clock = BackendClock(server)
        self.client = sdk(server)
        self.offset = 0.0

    def night(self, days: float = 1.0) -> None:
        self.offset += days * DAY
        self.clock.set_offset(self.offset)

    def run(self, *args: str, command: str = "retain") -> Any:
        return rlstate(self.server.url, self.server.token, self.folder, *args, command=command)

    def retain_ok(self, *args: str) -> dict[str, Any]:
        result = self.run("--json", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return summary(result.stdout)

    def live(self, series: str) -> dict[str, Any]:
        return series_snapshots(self.client, series)


def _series(keep: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"devbox": "builder", "every": "24h", "keep": keep, **extra}


def test_the_shrink_guard_stops_a_keep_typo_and_allow_shrink_passes_it(
    local_server: Any, tmp_path: Path
) -> None:
    n = Nights(local_server, tmp_path)
    managed_builder(n.client)
    write_manifest(tmp_path, {"a": _series({"last": 10}), "b": _series({"last": 2})}, True)
    for _ in range(8):
        n.retain_ok()
        n.night()
    assert (len(n.live("a")), len(n.live("b"))) == (8, 2)
    write_manifest(tmp_path, {"a": _series({"last": 1}), "b": _series({"last": 2})}, True)
    result = n.run("--json")
    assert result.returncode == 1
    failures = summary(result.stdout)["failures"]
    assert [f["id"] for f in failures] == ["prune snapshot.a"]
    reason = failures[0]["reason"]
    assert "snapshot.a" in reason and "8 of 9 complete" in reason and "--allow-shrink" in reason
    assert len(n.live("a")) == 9  # tonight's snapshot taken, nothing pruned
    assert len(n.live("b")) == 2  # the other series goes on: tonight's taken, one pruned
    text = n.run()
    assert text.returncode == 1 and "error: prune snapshot.a:" in text.stdout + text.stderr
    check = n.run(command="check")  # the refusal is the series' last run: fresh, but failed
    assert check.returncode == 1 and check.stdout.startswith("WARNING - "), check.stdout
    assert "snapshot.a: newest complete" in check.stdout and "its last run failed" in check.stdout
    assert n.retain_ok("--allow-shrink")["pruned"] == 8
    assert len(n.live("a")) == 1
    assert n.run(command="check").returncode == 0  # the next run succeeded


def test_the_shrink_guard_fires_when_the_clock_jumps_a_year(
    local_server: Any, tmp_path: Path
) -> None:
    n = Nights(local_server, tmp_path)
    managed_builder(n.client)
    write_manifest(tmp_path, {"a": _series({"within": "14d"})}, True)
    for _ in range(10):
        n.retain_ok()
        n.night()
    n.night(365)
    result = n.run("--json")
    assert result.returncode == 1
    (failure,) = summary(result.stdout)["failures"]
    assert "10 of 11 complete" in failure["reason"]
    assert len(n.live("a")) == 11


def _marks(live: dict[str, Any]) -> dict[str, str | None]:
    return {i: (s.metadata or {}).get(DELETE_AFTER) for i, s in live.items()}


def test_grace_marks_then_deletes_and_undelete_restores_the_series(
    local_server: Any, tmp_path: Path
) -> None:
    n = Nights(local_server, tmp_path)
    managed_builder(n.client)
    write_manifest(tmp_path, {"a": _series({"last": 5}, prune={"grace": "36h"})}, True)
    for _ in range(5):
        n.retain_ok()
        n.night()
    before = {i: dict(s.metadata or {}) for i, s in n.live("a").items()}
    write_manifest(
        tmp_path, {"a": _series({"last": 3}, prune={"grace": "36h"}, max_prune="100%")}, True
    )
    dry = n.run("--dry-run")
    assert dry.returncode == 0 and "sched" in dry.stdout, dry.stdout
    got = n.retain_ok()
    assert (got["taken"], got["pruned"], got["marked"]) == (1, 0, 3)
    marked = {i for i, when in _marks(n.live("a")).items() if when}
    assert len(marked) == 3 and len(n.live("a")) == 6
    listing = n.run()  # same night: nothing more to do, the marks are only listed
    assert listing.returncode == 0 and listing.stdout == ""
    undo = n.run("a", "--all", command="undelete")
    assert undo.returncode == 0 and "Undeleted 3 snapshots of snapshot.a." in undo.stdout
    after = {i: dict(s.metadata or {}) for i, s in n.live("a").items() if i in before}
    assert after == before  # exactly as the series was: every key back, no mark left
    write_manifest(tmp_path, {"a": _series({"last": 6}, prune={"grace": "36h"})}, True)
    assert n.retain_ok()["marked"] == 0  # the fixed manifest keeps all six
    write_manifest(tmp_path, {"a": _series({"last": 2}, prune={"grace": "36h"})}, True)
    n.night()
    got = n.retain_ok("--allow-shrink")
    assert got["marked"] >= 3 and got["pruned"] == 0
    marked = {i for i, when in _marks(n.live("a")).items() if when}
    n.night()  # 24h: still inside the grace period
    assert n.retain_ok()["pruned"] == 0 and marked <= set(n.live("a"))
    n.night()  # 48h: past it
    assert n.retain_ok()["pruned"] >= len(marked)
    assert not marked & set(n.live("a"))


def test_simulate_predicts_what_the_nights_leave(local_server: Any, tmp_path: Path) -> None:
    n = Nights(local_server, tmp_path)
    managed_builder(n.client)
    keep = {"last": 2, "daily": 4, "weekly": 2, "monthly": 2}
    write_manifest(tmp_path, {"a": _series(keep)}, True)
    for _ in range(3):
        n.retain_ok()
        n.night()
    nights = 90
    projected = n.run("--simulate", f"{nights}d", "--json")
    assert projected.returncode == 0, projected.stderr
    (sim,) = json.loads(projected.stdout)["series"]
    assert len(sim["days"]) == nights
    text = n.run("--simulate", f"{nights}d")
    assert text.returncode == 0 and "left after the last run" in text.stdout
    taken_on: dict[str, int] = {}
    for night in range(nights):
        before = set(n.live("a"))
        n.retain_ok()
        for new in set(n.live("a")) - before:
            taken_on[new] = night
        if night < nights - 1:
            n.night()
    left = {s["id"] for s in sim["left"]}
    day_ids = [d["taken"] for d in sim["days"]]
    actual = set()
    for snap_id in n.live("a"):
        actual.add(day_ids[taken_on[snap_id]] if snap_id in taken_on else snap_id)
    assert actual == left
    held = sum(s.size_bytes or 0 for s in n.live("a").values())
    predicted = sim["days"][-1]["bytes_kept"]  # new snapshots: sized like the newest complete
    assert predicted is not None and abs(predicted - held) <= held / 100, (predicted, held)
    assert STACK == "nightly"


def _settled_marks(n: Nights) -> dict[str, Any]:
    """The series once the marks stop changing (two reads a second apart agree)."""
    deadline = time.monotonic() + 60
    last = n.live("a")
    while True:
        time.sleep(1)
        now = n.live("a")
        if _marks(now) == _marks(last) or time.monotonic() > deadline:
            return now
        last = now


def test_a_run_killed_while_marking_leaves_each_snapshot_marked_or_untouched(
    local_server: Any, tmp_path: Path
) -> None:
    n = Nights(local_server, tmp_path)
    managed_builder(n.client)
    grace = {"grace": "24h"}
    write_manifest(tmp_path, {"a": _series({"last": 12}, prune=grace)}, True)
    for _ in range(12):
        n.retain_ok()
        n.night()
    before = {i: dict(s.metadata or {}) for i, s in n.live("a").items()}
    series = {"a": _series({"last": 1}, prune=grace, max_prune="100%")}
    write_manifest(tmp_path, series, True)
    # Every answer slow and few a second, as the cloud's rate limit makes them: the kill lands
    # among the marks however many requests the run keeps in flight.
    n.clock.faults(latency_ms=400, rate_limit=3)
    run = start_rlstate(["retain"], cwd=tmp_path, api=ApiAt(local_server.url, local_server.token))
    try:
        deadline = time.monotonic() + 120
        while not any(_marks(n.live("a")).values()):
            assert time.monotonic() < deadline, "no snapshot was ever marked"
            assert run.poll() is None, "the run ended before it was killed"
        run.kill()
        run.wait(timeout=60)
        settled = _settled_marks(n)  # requests the server held when the run died still land
    finally:
        n.clock.faults(latency_ms=0, rate_limit=None)
    marked = 0
    for snap_id, snap in settled.items():
        meta = dict(snap.metadata or {})
        if snap_id not in before:
            continue  # tonight's snapshot
        if DELETE_AFTER in meta:
            marked += 1
            meta.pop(DELETE_AFTER)
        assert meta == before[snap_id], f"{snap_id} is neither marked nor untouched"
    assert 0 < marked < len(before)  # killed part-way
    got = n.retain_ok()  # the next run finishes the job
    assert got["marked"] == len(before) - marked, json.dumps(got)
    assert got["scheduled"] == len(before)
