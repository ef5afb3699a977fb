"""The client's one adaptive limit, over the transport and over the local server's rate limit:
a Retry-After pauses every request (not only the one that got it), 429s are absorbed within
each request's retry budget, and the limit grows again once the throttling stops."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from api_support import FakeTime, Harness, run

from reconcile.api import RunloopClient
from reconcile.api.limiter import AdaptiveLimit, LimiterSettings
from reconcile.live.discovery import read_statuses

STATUS = "/v1/devboxes/disk_snapshots/{id}/status"


def test_retry_after_pauses_every_request_not_only_the_throttled_one() -> None:
    time = FakeTime()
    sent: list[tuple[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        snapshot = request.url.path.split("/")[-2]
        sent.append((snapshot, time.now))
        if snapshot == "snp_a" and len(sent) == 1:
            return httpx.Response(429, headers={"retry-after": "5"})
        return httpx.Response(200, json={"status": "complete"})

    harness = Harness(handler, time=time)
    limit = AdaptiveLimit(time.clock, LimiterSettings(initial=1, maximum=1))
    client = harness.client(limit=limit)

    async def both() -> None:
        async with client:
            await asyncio.gather(
                client.get_snapshot_status("snp_a"), client.get_snapshot_status("snp_b")
            )

    run(both())
    start = sent[0][1]
    assert sent[0] == ("snp_a", start)
    later = {name: at - start for name, at in sent[1:]}
    # snp_b was not sent during the pause; after it, starts are spaced by the Retry-After
    # (capped at 1 s) while the API throttles.
    assert later == {"snp_a": 5.0, "snp_b": 6.0}
    assert limit.totals.throttled == 1


def _status_ids(count: int, tag: str) -> frozenset[str]:
    return frozenset(f"snp_{tag}{n:04d}" for n in range(count))


def test_reads_converge_under_a_rate_limit_then_the_limit_grows_when_it_is_lifted(
    local_server: Any,
) -> None:
    local_server.control("/_local/faults", {"rate_limit": 20, "rate_limit_burst": 5})

    async def scenario() -> tuple[int, int, int, dict[str, int]]:
        async with RunloopClient(local_server.url, local_server.token) as client:
            limited = _status_ids(60, "a")
            found = await read_statuses(client, limited)
            assert set(found) == limited  # every read answered, none failed its retry budget
            low, throttled = client.limit.limit, client.limit.totals.throttled
            local_server.control("/_local/faults", {"rate_limit": None})
            client.stats.reset()
            free = _status_ids(600, "b")
            assert set(await read_statuses(client, free)) == free
            return low, throttled, client.limit.limit, dict(client.stats.by_route)

    low, throttled, high, routes = asyncio.run(scenario())
    assert throttled > 0
    assert high > low
    assert routes == {f"GET {STATUS}": 600}  # once lifted: one request per read, no retry
