"""Discovery's wire exchanges, pinned: recorded against the local backend, replayed with no server.

The recorded stack is the drifted shop (see test_plan_support) with `prune_unmanaged: true`,
next to another stack's and unmarked resources. Replay (the default) checks that discovery
sends exactly the recorded requests (three lists, one devbox-filtered snapshot list, the status
reads a prune needs) and that the plan made from the answers is right. Re-record with:
    RLSTATE_RECORD=1 python -m pytest tests/e2e/test_plan_discovery.py
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cassette_support import CASSETTE_ROOT, make_vcr, no_sleep, recording
from test_plan_support import MANIFEST, SECRET, Shop, load_shop, make_strangers, sdk, write_shop

from reconcile.api.client import RunloopClient
from reconcile.live.discovery import discover_live_state
from reconcile.live.model import LiveState
from reconcile.plan.planner import build_plan
from reconcile.plan.series import statuses_needed

MODULE = "test_plan_discovery"
CASSETTE = "shop_with_strangers.yaml"
PLACEHOLDER = "http://localapi.test"
UNMANAGED = MANIFEST.replace("keep: {last: 2}", "keep: {last: 2}\n    prune_unmanaged: true")


def build_world(server: Any, path: Path) -> None:
    """The shop: web missing, a leftover `old`, three nightlies, then a snapshot by hand."""
    shop = Shop(sdk(server), load_shop(path))
    shop.object("tool")
    shop.devbox("api")
    nightlies = [shop.snapshot("nightly", "devbox.api") for _ in range(3)]
    for n in (0, 1):
        shop.devbox(f"worker-{n}", snapshot_id=nightlies[-1])
    shop.leftover_devbox("old")
    make_strangers(shop.client, shop)


def discover(url: str, key: str, path: Path, record: bool) -> LiveState:
    manifest = load_shop(path).manifest
    now = datetime.now(UTC)

    async def go() -> LiveState:
        sleep = asyncio.sleep if record else no_sleep
        async with RunloopClient(url, key, sleep=sleep) as client:
            return await discover_live_state(
                client, manifest, lambda live: statuses_needed(manifest, live, now)
            )

    return asyncio.run(go())


def test_discovery_replays_and_plans_from_the_answers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    record = recording()
    path = write_shop(tmp_path / "shop", UNMANAGED)
    if record:
        server: Any = request.getfixturevalue("local_server")
        build_world(server, path)
        url, key = server.url, server.token
    else:
        if not (CASSETTE_ROOT / MODULE / CASSETTE).exists():
            pytest.fail(f"{CASSETTE} is missing; re-record with RLSTATE_RECORD=1")
        url, key = PLACEHOLDER, "replay-key"
    recorder = make_vcr(MODULE, record=record, secret=key, origin=url if record else None)
    with recorder.use_cassette(CASSETTE) as cassette:
        live = discover(url if record else PLACEHOLDER, key, path, record)
        if not record:
            assert cassette.all_played, "discovery sent fewer requests than were recorded"

    assert sorted(d.logical_name or "" for d in live.devboxes) == [
        "api",
        "old",
        "worker-0",
        "worker-1",
    ]
    assert [o.logical_name for o in live.objects] == ["tool"]
    own = [s for s in live.snapshots if s.series == "nightly"]
    foreign = [s for s in live.snapshots if s.series is None]
    assert (len(own), len(foreign)) == (3, 1) and foreign[0].metadata == {}
    # A series that prunes has every status read; all are complete.
    assert {s.status for s in live.snapshots} == {"complete"}

    newest = max(s.create_time_ms for s in live.snapshots)
    now = datetime.fromtimestamp(newest / 1000, UTC) + timedelta(hours=1)
    plan = build_plan(load_shop(path), live, now)
    ordered = sorted(live.snapshots, key=lambda s: s.create_time_ms)
    prunes = sorted(a.resource_id or "" for a in plan.actions if a.kind == "prune")
    assert prunes == sorted(s.id for s in ordered[:2])  # the two oldest nightlies
    kinds = sorted((a.kind, a.address) for a in plan.actions if a.kind != "prune")
    assert kinds == [("create", "devbox.web"), ("delete", "devbox.old")]


def test_the_cassette_holds_no_secret() -> None:
    path = CASSETTE_ROOT / MODULE / CASSETTE
    if not path.exists():
        pytest.fail(f"{CASSETTE} is missing; re-record with RLSTATE_RECORD=1")
    text = path.read_text()
    for secret in ("test-token-not-secret", SECRET, "Bearer", "127.0.0.1"):
        assert secret not in text
    assert "authorization" not in text.lower()
