"""Helpers for end-to-end apply tests: run the real `rlstate` in a subprocess against the local
backend, and look at the result with the official Runloop SDK (what a user would check)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from runloop_api_client import Runloop

from tests.helpers import REPO, rlstate, start_rlstate
from tests.helpers import sdk as sdk

MANIFESTS = REPO / "manifests"
ACTIVE = {"provisioning", "initializing", "running", "suspending", "suspended", "resuming"}


def workdir(tmp_path: Path) -> Path:
    """A copy of the example manifests (and their files) to run in."""
    target = tmp_path / "work"
    shutil.copytree(MANIFESTS, target)
    return target


def start(server: Any, cwd: Path, *args: str) -> subprocess.Popen[str]:
    """Starts `rlstate ARGS` against `server` with its stdout readable line by line."""
    return start_rlstate(args, cwd=cwd, api=server)


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def summary(stdout: str) -> dict[str, Any]:
    found = [e for e in events(stdout) if e.get("event") == "summary"]
    assert found, f"no summary event in:\n{stdout}"
    return found[-1]


def devboxes(client: Runloop, stack: str, active_only: bool = True) -> list[Any]:
    return [
        d
        for d in client.devboxes.list(limit=500)
        if (d.metadata or {}).get("rlstate.stack") == stack
        and (d.status in ACTIVE or not active_only)
    ]


def by_name(client: Runloop, stack: str) -> dict[str, Any]:
    """The stack's active devboxes by logical name; fails on any duplicate."""
    boxes = devboxes(client, stack)
    names = Counter((d.metadata or {}).get("rlstate.name") for d in boxes)
    duplicates = {n: c for n, c in names.items() if c > 1}
    assert not duplicates, f"duplicate devboxes: {duplicates}"
    return {(d.metadata or {})["rlstate.name"]: d for d in boxes}


def objects(client: Runloop, stack: str) -> list[Any]:
    return [
        o
        for o in client.objects.list(limit=500)
        if (o.metadata or {}).get("rlstate.stack") == stack and o.state != "DELETED"
    ]


def snapshots(client: Runloop, stack: str) -> list[Any]:
    return [
        s
        for s in client.devboxes.disk_snapshots.list(limit=500)
        if (s.metadata or {}).get("rlstate.stack") == stack
    ]


def read(client: Runloop, devbox_id: str, path: str) -> str:
    return client.devboxes.read_file_contents(devbox_id, file_path=path)


def apply_under_faults(
    server: Any, cwd: Path, manifest: str, faults: dict[str, object]
) -> subprocess.CompletedProcess[str]:
    """`rlstate apply MANIFEST --yes --json` while the server injects `faults` (off again after),
    checked to have ended converged."""
    server.control("/_local/faults", faults)
    applied = rlstate(server, cwd, "apply", manifest, "--yes", "--json")
    server.control("/_local/faults", {"rate": 0.0, "drop_rate": 0.0, "lost_answer_rate": 0.0})

    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr
    assert summary(applied.stdout)["result"] == "converged"
    return applied


def converged(server: Any, cwd: Path, manifest: str) -> bool:
    """`rlstate plan --detailed-exitcode` says there is nothing left to do."""
    result = rlstate(server, cwd, "plan", manifest, "--detailed-exitcode")
    assert result.returncode in (0, 2), result.stderr
    return result.returncode == 0
