"""Lists fetch every page: limit=5000, no total count, `starting_after` cursors, server filters."""

from __future__ import annotations

import httpx
import pytest
from api_support import Handler, Harness, devbox_json, run

from reconcile.api import RunloopClient
from reconcile.errors import ApiProtocolError

IDS = [f"dbx_{n:02d}" for n in range(7)]


def paged_server(
    page_size: int, ids: list[str] = IDS, *, has_more_on_last: bool = False
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("starting_after")
        start = ids.index(after) + 1 if after else 0
        page = ids[start : start + page_size]
        more = start + page_size < len(ids) or has_more_on_last
        return httpx.Response(
            200, json={"devboxes": [devbox_json(i) for i in page], "has_more": more}
        )

    return handler


def list_with(harness: Harness, **kwargs: object) -> list[str]:
    async def call() -> list[str]:
        async with harness.client(**kwargs) as client:
            return [d.id for d in await client.list_devboxes(status="running")]

    return run(call())


def test_follows_cursors_until_has_more_is_false() -> None:
    harness = Harness(paged_server(3))
    assert list_with(harness, page_limit=3) == IDS
    params = [dict(r.url.params) for r in harness.requests]
    assert params == [
        {"status": "running", "limit": "3", "include_total_count": "false"},
        {
            "status": "running",
            "limit": "3",
            "include_total_count": "false",
            "starting_after": "dbx_02",
        },
        {
            "status": "running",
            "limit": "3",
            "include_total_count": "false",
            "starting_after": "dbx_05",
        },
    ]


def test_default_page_is_5000_and_one_request_suffices() -> None:
    harness = Harness(paged_server(5000))
    assert list_with(harness) == IDS
    assert len(harness.requests) == 1
    assert harness.requests[0].url.params["limit"] == "5000"


def test_stops_on_an_empty_page_even_if_has_more() -> None:
    harness = Harness(paged_server(7, has_more_on_last=True))
    assert list_with(harness, page_limit=7) == IDS
    assert len(harness.requests) == 2


def test_a_cursor_that_does_not_advance_is_a_protocol_error() -> None:
    def stuck(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"devboxes": [devbox_json("dbx_00")], "has_more": True})

    with pytest.raises(ApiProtocolError, match="did not advance"):
        list_with(Harness(stuck))


def test_snapshot_metadata_filters_are_server_side_query_params() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"snapshots": [], "has_more": False})

    async def call() -> None:
        async with RunloopClient(
            "http://api.test", None, transport=httpx.MockTransport(handler)
        ) as c:
            await c.list_snapshots(
                devbox_id="dbx_1",
                metadata={"rlstate.stack": "prod", "rlstate.kind": "snapshot"},
                metadata_in={"rlstate.name": ["golden", "nightly"]},
            )

    run(call())
    assert dict(seen[0].url.params) == {
        "devbox_id": "dbx_1",
        "metadata[rlstate.stack]": "prod",
        "metadata[rlstate.kind]": "snapshot",
        "metadata[rlstate.name][in]": "golden,nightly",
        "limit": "5000",
        "include_total_count": "false",
    }
    assert seen[0].url.path == "/v1/devboxes/disk_snapshots"


def test_in_filter_values_with_commas_are_refused() -> None:
    client = RunloopClient("http://api.test", None)

    async def call() -> None:
        async with client:
            await client.list_snapshots(metadata_in={"k": ["a,b"]})

    with pytest.raises(ValueError, match="commas"):
        run(call())
