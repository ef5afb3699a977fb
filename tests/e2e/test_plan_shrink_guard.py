"""The shrink guard in `rlstate plan` and `rlstate apply`, through the command line on the local
backend's clock: a `keep` typo or a clock that jumped a year holds back that series' prune (the
plan names the series, the count and `--allow-shrink`; apply does the rest and exits 1), and
`--allow-shrink` (or a plan saved with it) prunes.

A series' history is made fast: one `apply` creates the devbox and the first snapshots, then
each further night's snapshot is taken over HTTP with the marks `apply` gives its own. What the
runs did is read with the SDK.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from retain_support import (
    STACK,
    BackendClock,
    rlstate,
    sdk,
    series_snapshots,
    summary,
    write_manifest,
)

from reconcile.plan.desired import snapshot_metadata
from reconcile.retention import RetentionPolicy
from reconcile.stamps import keep_stamp

DAY = 86400.0


class Stack:
    """The backend's clock, the manifest, and `rlstate` runs against them."""

    def __init__(self, server: Any, folder: Path) -> None:
        self.server, self.folder = server, folder
        self.clock = BackendClock(server)
        self.client = sdk(server)

    def run(self, command: str, *args: str) -> Any:
        return rlstate(self.server.url, self.server.token, self.folder, *args, command=command)

    def at(self, night: float) -> None:
        self.clock.set_offset(night * DAY)

    def snapshot(self, series: str, keep: RetentionPolicy) -> None:
        """One snapshot of devbox.builder in `series`, marked as `apply` marks its own."""
        (box,) = [b for b in self.client.devboxes.list(limit=50) if b.name == "builder"]
        meta = {**snapshot_metadata(STACK, series, protect=False), **keep_stamp(keep)}
        reply = self.clock.http.post(
            f"/v1/devboxes/{box.id}/snapshot_disk", json={"name": series, "metadata": meta}
        )
        reply.raise_for_status()

    def count(self, series: str) -> int:
        return len(series_snapshots(self.client, series))

    def devboxes(self) -> set[str]:
        return {b.name for b in self.client.devboxes.list(limit=50) if b.status == "running"}


def _series(keep: dict[str, Any]) -> dict[str, Any]:
    return {"devbox": "builder", "every": "24h", "keep": keep}


def _manifest(stack: Stack, a: dict[str, Any], *, helper: bool = False) -> None:
    path = write_manifest(stack.folder, {"a": _series(a), "b": _series({"last": 2})}, True)
    if helper:  # other work for the same apply: a devbox to create
        doc = json.loads(path.read_text())
        doc["devboxes"]["helper"] = {"resource_size": "X_SMALL"}
        path.write_text(json.dumps(doc, indent=2))


def _thirty_nights(stack: Stack) -> None:
    """Series a (keep last 30) holds 30 nightly snapshots, series b (keep last 2) three."""
    _manifest(stack, {"last": 30})
    stack.at(0)
    first = stack.run("apply", "rlstate.yaml", "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    for night in range(1, 30):
        stack.at(night)
        stack.snapshot("a", RetentionPolicy(last=30))
        if night >= 28:
            stack.snapshot("b", RetentionPolicy(last=2))
    assert (stack.count("a"), stack.count("b")) == (30, 3)


def _prunes_of(plan: dict[str, Any], series: str) -> list[dict[str, Any]]:
    return [
        a
        for a in plan["actions"]
        if a["address"] == f"snapshot.{series}" and a["kind"] in ("prune", "mark")
    ]


def test_a_keep_typo_is_held_back_by_plan_and_apply_and_allow_shrink_prunes(
    local_server: Any, tmp_path: Path
) -> None:
    stack = Stack(local_server, tmp_path)
    _thirty_nights(stack)
    stack.at(30)
    _manifest(stack, {"last": 3}, helper=True)  # meant 30
    shown = stack.run("plan", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    plan = json.loads(shown.stdout)
    (refusal,) = plan["shrink_refused"]
    assert (refusal["series"], refusal["pruned"], refusal["complete"]) == ("a", 27, 30)
    assert refusal["flag"] == "--allow-shrink" and "snapshot.a" in refusal["message"]
    assert _prunes_of(plan, "a") == [] and len(_prunes_of(plan, "b")) == 1
    assert plan["summary"]["shrink_refused"] == 1
    text = stack.run("plan", "--detailed-exitcode")  # live does not match the manifest
    assert text.returncode == 2, text.stdout + text.stderr
    assert "! refused: snapshot.a: would prune 27 of 30 complete snapshots" in text.stdout
    assert "--allow-shrink" in text.stdout and "x prune snapshot.a" not in text.stdout
    assert "x prune snapshot.b" in text.stdout

    applied = stack.run("apply", "--json")  # the saved plan: it carries the refusal
    assert applied.returncode == 1, applied.stdout + applied.stderr
    got = summary(applied.stdout)
    assert [f["id"] for f in got["failures"]] == ["prune snapshot.a"]
    reason = got["failures"][0]["reason"]
    assert "27 of 30 complete" in reason and "--allow-shrink" in reason
    assert got["result"] == "partial" and got["done"] >= 4  # two snapshots, b's prune, helper
    assert stack.count("a") == 31  # tonight's taken, nothing pruned
    assert stack.count("b") == 3  # tonight's taken, the oldest pruned
    assert "helper" in stack.devboxes()

    again = stack.run("apply", "rlstate.yaml", "--yes")  # from the manifest, in words
    assert again.returncode == 1
    assert "failed:  prune snapshot.a: snapshot.a: would prune 28 of 31" in again.stdout
    assert "--allow-shrink" in again.stdout and stack.count("a") == 31

    saved = stack.run("plan", "--allow-shrink", "--out", "allowed.json")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert "allowed by --allow-shrink" in saved.stdout and "x prune snapshot.a" in saved.stdout
    twice = stack.run("apply", "allowed.json", "--allow-shrink")
    assert twice.returncode == 1 and "cannot be used with a saved plan" in twice.stderr
    done = stack.run("apply", "allowed.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert stack.count("a") == 3


def test_a_clock_that_jumped_a_year_is_held_back_and_allow_shrink_passes(
    local_server: Any, tmp_path: Path
) -> None:
    """`within` counts back from the newest complete snapshot, so the run after the jump only
    takes the year's first snapshot; the next one would prune every snapshot before it."""
    stack = Stack(local_server, tmp_path)
    write_manifest(tmp_path, {"a": _series({"within": "14d"})}, True)
    stack.at(0)
    first = stack.run("apply", "rlstate.yaml", "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    for night in range(1, 10):
        stack.at(night)
        stack.snapshot("a", RetentionPolicy(within=timedelta(days=14)))
    stack.at(9 + 365)
    jumped = stack.run("apply", "rlstate.yaml", "--yes")
    assert jumped.returncode == 0, jumped.stdout + jumped.stderr
    assert stack.count("a") == 11
    plan = json.loads(stack.run("plan", "--json").stdout)
    (refusal,) = plan["shrink_refused"]
    assert (refusal["series"], refusal["pruned"], refusal["complete"]) == ("a", 10, 11)
    assert _prunes_of(plan, "a") == []
    applied = stack.run("apply", "rlstate.yaml", "--yes", "--json")
    assert applied.returncode == 1, applied.stdout + applied.stderr
    (failure,) = summary(applied.stdout)["failures"]
    assert failure["id"] == "prune snapshot.a" and "10 of 11 complete" in failure["reason"]
    assert "--allow-shrink" in failure["reason"] and stack.count("a") == 11
    allowed = stack.run("apply", "rlstate.yaml", "--yes", "--allow-shrink", "--json")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert stack.count("a") == 1
