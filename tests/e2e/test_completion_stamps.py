"""Completion stamps learnt on read: after `apply` or `retain` read a snapshot of the stack as
complete, it carries `rlstate.state=complete` (merged into its metadata), and the next plan
reads no status; `plan` itself writes nothing. Request counts are exact."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apply_support import summary
from plan_support import Shop, load_shop, sdk, write_shop

from reconcile.api.client import RunloopClient
from reconcile.commands.common import discover
from reconcile.live.model import KEY_SERIES, KEY_STATE
from tests.helpers import rlstate

STATUS = "GET /v1/devboxes/disk_snapshots/{id}/status"
MANIFEST = """\
version: 1
stack: shop
devboxes:
  api: {}
snapshots:
  nightly:
    devbox: api
    every: 24h
    keep: {last: 2}
"""


def status_reads(server: Any, path: Path) -> int:
    """Status reads the planner's discovery makes now."""

    async def go() -> int:
        async with RunloopClient(server.url, server.token) as client:
            await discover(client, load_shop(path), datetime.now(UTC))
            return client.stats.by_route.get(STATUS, 0)

    return asyncio.run(go())


def nightlies(server: Any) -> dict[str, dict[str, str]]:
    found = sdk(server).devboxes.disk_snapshots.list(limit=100)
    return {s.id: dict(s.metadata or {}) for s in found if (s.metadata or {}).get(KEY_SERIES)}


@pytest.fixture
def unstamped(local_server: Any, tmp_path: Path) -> Path:
    """Three complete snapshots of `nightly` that no rlstate run has seen complete."""
    path = write_shop(tmp_path / "work", MANIFEST)
    shop = Shop(sdk(local_server), load_shop(path))
    shop.devbox("api")
    for _ in range(3):
        shop.snapshot("nightly", "devbox.api")
    assert all(KEY_STATE not in meta for meta in nightlies(local_server).values())
    return path


def test_plan_reads_and_stamps_nothing(local_server: Any, unstamped: Path) -> None:
    assert status_reads(local_server, unstamped) == 3
    planned = rlstate(local_server, unstamped.parent, "plan", "rlstate.yaml")
    assert planned.returncode in (0, 2), planned.stderr
    assert all(KEY_STATE not in meta for meta in nightlies(local_server).values())
    assert status_reads(local_server, unstamped) == 3


def test_apply_stamps_what_it_read_complete_and_keeps(local_server: Any, unstamped: Path) -> None:
    before = nightlies(local_server)
    done = rlstate(local_server, unstamped.parent, "apply", "rlstate.yaml", "--yes", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    # 3 lists + 3 status reads, 1 delete, 2 stamps
    assert summary(done.stdout)["requests"] == 9
    after = nightlies(local_server)
    assert len(after) == 2
    for snapshot_id, meta in after.items():
        assert meta == {**before[snapshot_id], KEY_STATE: "complete"}  # merged, nothing lost
    assert status_reads(local_server, unstamped) == 0


def test_retain_stamps_the_snapshots_it_keeps(local_server: Any, unstamped: Path) -> None:
    done = rlstate(local_server, unstamped.parent, "retain", "rlstate.yaml", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    last = [line for line in done.stdout.splitlines() if '"summary"' in line][-1]
    assert '"pruned": 1' in last
    after = nightlies(local_server)
    assert len(after) == 2 and all(m.get(KEY_STATE) == "complete" for m in after.values())
    assert status_reads(local_server, unstamped) == 0


def test_a_dry_run_of_retain_stamps_nothing(local_server: Any, unstamped: Path) -> None:
    done = rlstate(local_server, unstamped.parent, "retain", "rlstate.yaml", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert all(KEY_STATE not in meta for meta in nightlies(local_server).values())
