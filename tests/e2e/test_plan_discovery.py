"""Discovery's wire exchanges, pinned: recorded against the local backend, replayed with no server.

The recorded stack is the drifted shop (see plan_support) with `prune_unmanaged: true`,
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

import httpx
import pytest
from cassette_support import CASSETTE_ROOT, make_vcr, no_sleep, recording
from plan_support import MANIFEST, SECRET, Shop, load_shop, make_strangers, sdk, write_shop

from reconcile.api.client import RunloopClient
from reconcile.api.retry import RetryPolicy
from reconcile.errors import ApiServerError
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


# ---------------------------------------------------------------- status reads that fail

STACK_SNAPSHOTS = [
    {
        "id": f"snp_{n}",
        "create_time_ms": 1_700_000_000_000 + n * 60_000,
        "source_devbox_id": "dbx_a",
    }
    for n in range(6)
]


def fake_api(statuses: dict[str, int]) -> httpx.MockTransport:
    """Lists one stack's six snapshots (keep last 2 prunes four); each status answers with
    the HTTP code in `statuses` (200 → complete)."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/devboxes":
            return httpx.Response(200, json={"devboxes": [], "has_more": False})
        if path == "/v1/objects":
            return httpx.Response(200, json={"objects": [], "has_more": False})
        if path == "/v1/devboxes/disk_snapshots":
            marks = {"rlstate.stack": "shop", "rlstate.series": "nightly"}
            snaps = [{**s, "metadata": marks} for s in STACK_SNAPSHOTS]
            return httpx.Response(200, json={"snapshots": snaps, "has_more": False})
        snap_id = path.split("/")[-2]
        code = statuses.get(snap_id, 200)
        if code == 200:
            return httpx.Response(200, json={"status": "complete"})
        return httpx.Response(code, json={"message": "no"})

    return httpx.MockTransport(handler)


def discover_with(statuses: dict[str, int], tmp_path: Path) -> LiveState:
    path = write_shop(tmp_path, MANIFEST.replace("devbox: api", "devbox: dbx_a"))
    manifest = load_shop(path).manifest
    now = datetime.fromtimestamp(1_700_000_000 + 3600, UTC)

    async def go() -> LiveState:
        retry = RetryPolicy(max_attempts=1)
        async with RunloopClient(PLACEHOLDER, "k", transport=fake_api(statuses), retry=retry) as c:
            return await discover_live_state(
                c, manifest, lambda live: statuses_needed(manifest, live, now)
            )

    return asyncio.run(go())


def test_a_status_read_that_fails_fails_the_discovery(tmp_path: Path) -> None:
    with pytest.raises(ApiServerError):
        discover_with({"snp_2": 503}, tmp_path)


def test_a_snapshot_gone_between_list_and_status_counts_as_deleted(tmp_path: Path) -> None:
    live = discover_with({"snp_1": 404}, tmp_path)
    assert {s.id: s.status for s in live.snapshots} == {
        **{f"snp_{n}": "complete" for n in range(6)},
        "snp_1": "deleted",
    }
