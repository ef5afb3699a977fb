"""Soak of the lean HTTP/1.1 client (wire.py) and the retry layer against the real local server
with every transport fault on at once: dropped connections, lost answers (carried out, then the
connection dropped), 429s with Retry-After and 50 ms per answer. Concurrent tasks create devboxes,
read their status, shut half of them down and delete seeded snapshots; afterwards every effect
happened exactly once (a retried create is answered from its x-request-id, never made twice), every
call succeeded, and nothing was left hanging (the whole soak runs under a deadline).

RLSTATE_WIRE_SOAK sets the number of devboxes (default 40, some seconds; 2000 is a long soak) and
RLSTATE_WIRE_SOAK_SEED the fault dice."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
from api_support import run

from reconcile.api import RetryEvent, RetryPolicy, RunloopClient
from reconcile.api.models import Devbox
from tests.conftest import LocalServer

SIZE = int(os.environ.get("RLSTATE_WIRE_SOAK", "40"))
SEED = int(os.environ.get("RLSTATE_WIRE_SOAK_SEED", "11"))
FAULTS: dict[str, object] = {
    "rate_limit": 60,  # requests/s: 429s with Retry-After when the client goes faster
    "rate": 0.02,  # and a few the client could not have avoided
    "statuses": [429],
    "retry_after": 0.05,
    "drop_rate": 0.08,
    "lost_answer_rate": 0.12,
    "latency_ms": 50,
}
# A call fails about a quarter of its attempts here; twelve in a row is a one-in-ten-million run.
POLICY = RetryPolicy(max_attempts=12, base_delay=0.02, max_delay=0.2, max_retry_after=1.0)
TASKS = 24  # concurrent workers: more than one request per connection, fewer than the limit


@dataclass
class Tally:
    """What the soak asked for and was told."""

    made: dict[str, str] = field(default_factory=dict)  # name -> id the create answered
    shut: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    retries: list[RetryEvent] = field(default_factory=list)
    requests: int = 0


def _deadline() -> float:
    """Generous: the work's own pace is about 0.1 s per call in flight; CI machines are slow."""
    return 120.0 + SIZE * 0.5


async def _one(client: RunloopClient, n: int, snapshot: str, tally: Tally) -> None:
    name = f"soak-{n}"
    box = await client.create_devbox({"name": name, "metadata": {"soak": "wire"}})
    tally.made[name] = box.id
    assert (await client.get_devbox(box.id)).name == name
    await client.get_snapshot_status(snapshot)
    if n % 2 == 0:
        await client.shutdown_devbox(box.id)
        tally.shut.add(box.id)
    await client.delete_snapshot(snapshot)
    tally.deleted.add(snapshot)


async def _soak(server: LocalServer, snapshots: list[str], tally: Tally) -> None:
    work: asyncio.Queue[int] = asyncio.Queue()
    for n in range(SIZE):
        work.put_nowait(n)

    async def worker(client: RunloopClient) -> None:
        while not work.empty():
            n = work.get_nowait()
            await _one(client, n, snapshots[n], tally)

    client = RunloopClient(
        server.url, server.token, retry=POLICY, lean=True, on_retry=tally.retries.append
    )
    async with client:
        assert client._http.wire is not None, "the soak must go over wire.py"
        async with asyncio.timeout(_deadline()):
            await asyncio.gather(*(worker(client) for _ in range(TASKS)))
        tally.requests = client.stats.total


def _seed_snapshots(server: LocalServer) -> list[str]:
    items = [{"source_devbox_id": "dbx_gone", "name": f"old-{n}"} for n in range(SIZE)]
    made = server.control("/_local/seed", {"snapshots": items})["snapshots"]
    assert isinstance(made, list)
    return [str(s) for s in made]


async def _afterwards(server: LocalServer) -> tuple[list[Devbox], set[str]]:
    """The soak's devboxes and every snapshot id left, read over httpx with the faults off."""
    async with RunloopClient(server.url, server.token) as reader:
        boxes = [d for d in await reader.list_devboxes() if d.metadata.get("soak") == "wire"]
        return boxes, {s.id for s in await reader.list_snapshots()}


def test_every_call_under_faults_takes_effect_once_and_none_hangs(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    snapshots = _seed_snapshots(local_server)
    local_server.control("/_local/faults", {**FAULTS, "seed": SEED})
    tally = Tally()
    try:
        run(_soak(local_server, snapshots, tally))
    finally:
        off = {"rate": 0, "drop_rate": 0, "lost_answer_rate": 0, "latency_ms": 0}
        local_server.control("/_local/faults", {**off, "rate_limit": None})

    boxes, snapshots_left = run(_afterwards(local_server))
    names = Counter(b.name for b in boxes)
    assert {n: c for n, c in names.items() if c > 1} == {}, "a create took effect twice"
    assert {b.name: b.id for b in boxes} == tally.made
    assert {b.id for b in boxes if b.status == "shutdown"} == tally.shut
    assert len(tally.shut) == (SIZE + 1) // 2 and len(tally.deleted) == SIZE
    assert not snapshots_left & tally.deleted

    reasons = Counter(e.reason for e in tally.retries)
    print(f"soak of {SIZE} (seed {SEED}): {tally.requests} requests, retries {dict(reasons)}")
    assert reasons["throttled (429)"] > 0, "no 429 reached the client"
    lost_posts = [e for e in tally.retries if e.method == "POST" and "Protocol" in e.reason]
    assert lost_posts, "no POST lost its connection: the soak proved nothing about replays"
