"""Verified restores over simulated nights, through the command line on the backend's clock.

A series verifies every 7 nights by restoring its newest complete snapshot into a probe devbox
and running a command there. Checked from outside with the SDK: the stamps appear on the
verify nights; a command that fails exits 1 (and again the next night: a failure does not
count), stamps the failure and reports the command's output's tail; no probe devbox
outlives its run, also when the run is interrupted or killed during the probe (the next run
removes a killed run's probe); the newest verified snapshot survives pruning by `keep`.
"""

from __future__ import annotations

import itertools
import signal
import time
from pathlib import Path
from typing import Any

from retain_support import (
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
NIGHTS = 60
FIRST_NIGHT = 2  # the first run verifies, then every 7 nights: 2, 9, 16, 23, 30, …
BREAK_NIGHT = 30  # a verify night; the check fails then, and again on night 31
CHECK = "test -s /home/user/.profile && echo restore looks fine"
FAILING = "echo checking the restore; echo database will not start >&2; exit 1"
VERIFIED = "rlstate.verified"
FAILED = "rlstate.verify_failed"
PROBE = "rlstate.probe"


def _series(command: str) -> dict[str, Any]:
    verify = {"command": command, "every": "7d", "timeout": "2m"}
    return {"a": {"devbox": "builder", "every": "24h", "keep": {"last": 3}, "verify": verify}}


def _probes(client: Any) -> list[str]:
    """Probe devboxes of the stack that are not shut down."""
    boxes = client.devboxes.list(limit=500)
    return [
        b.id
        for b in boxes
        if (b.metadata or {}).get(PROBE) == "nightly" and b.status not in ("shutdown", "failure")
    ]


def _stamped(client: Any, key: str) -> dict[str, str]:
    return {
        i: (s.metadata or {})[key]
        for i, s in series_snapshots(client, "a").items()
        if key in (s.metadata or {})
    }


def test_sixty_nights_of_verified_restores(local_server: Any, tmp_path: Path) -> None:
    client, clock = sdk(local_server), BackendClock(local_server)
    managed_builder(client)
    write_manifest(tmp_path, _series(CHECK), True)
    verified_nights = []
    for night in range(FIRST_NIGHT, FIRST_NIGHT + NIGHTS):
        clock.set_offset(night * DAY)
        if night == BREAK_NIGHT:  # the check starts failing (as a broken restore would)
            write_manifest(tmp_path, _series(FAILING), True)
        if night == BREAK_NIGHT + 2:
            write_manifest(tmp_path, _series(CHECK), True)
        if night == 16:  # a verify night: the dry run says so and changes nothing
            dry = rlstate(local_server.url, local_server.token, tmp_path, "--dry-run")
            assert dry.returncode == 0 and "would verify snp_" in dry.stdout, dry.stdout
            assert _probes(client) == []
        before = set(_stamped(client, VERIFIED))
        result = rlstate(local_server.url, local_server.token, tmp_path, "--json")
        assert _probes(client) == [], f"night {night}: a probe outlived its run"
        if night in (BREAK_NIGHT, BREAK_NIGHT + 1):  # the next night tries again, and fails
            assert result.returncode == 1, result.stdout
            (failure,) = summary(result.stdout)["failures"]
            assert failure["id"] == "verify snapshot.a" and "exit 1" in failure["reason"]
            assert "database will not start" in failure["reason"]  # the output's tail
            assert _stamped(client, FAILED), "the failure is stamped on the snapshot"
            continue
        assert result.returncode == 0, result.stdout + result.stderr
        if set(_stamped(client, VERIFIED)) - before:
            verified_nights.append(night)
        # The newest verified snapshot is never pruned, though `last: 3` alone would.
        if verified_nights:
            assert _stamped(client, VERIFIED), f"night {night}: the verified snapshot is gone"
    assert verified_nights[:5] == [2, 9, 16, 23, BREAK_NIGHT + 2]
    assert all(b - a == 7 for a, b in itertools.pairwise(verified_nights[4:]))
    clock.close()


def _start(local_server: Any, tmp_path: Path) -> Any:
    return start_rlstate(["retain"], cwd=tmp_path, api=ApiAt(local_server.url, local_server.token))


def _wait_for_probe(client: Any) -> list[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = _probes(client)
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("no probe devbox appeared")


def test_no_probe_outlives_an_interrupted_or_killed_run(local_server: Any, tmp_path: Path) -> None:
    client = sdk(local_server)
    managed_builder(client)
    write_manifest(tmp_path, _series("sleep 600"), True)
    run = _start(local_server, tmp_path)
    _wait_for_probe(client)
    run.send_signal(signal.SIGINT)
    run.wait(timeout=120)
    assert run.returncode != 0
    assert _probes(client) == []  # the interrupted run deleted its own probe
    run = _start(local_server, tmp_path)
    left = _wait_for_probe(client)
    run.kill()
    run.wait(timeout=60)
    assert _probes(client) == left  # SIGKILL: nothing could clean up
    write_manifest(tmp_path, _series("true"), True)
    result = rlstate(local_server.url, local_server.token, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "removed probe devbox" in result.stdout
    assert _probes(client) == []
