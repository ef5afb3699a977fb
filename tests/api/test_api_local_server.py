"""The client against the real local backend over a real socket: paging, lifecycle, errors."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import run

from reconcile.api import RunloopClient
from reconcile.errors import ApiAuthError, ApiConflictError, ApiNotFoundError
from reconcile.retention import format_duration

BOX = {"name": "paging", "metadata": {"rlstate.stack": "t"}}


def client_for(server: Any, **kwargs: Any) -> RunloopClient:
    return RunloopClient(server.url, server.token, **kwargs)


def test_list_follows_cursors_over_small_pages(local_server: Any) -> None:
    async def scenario() -> None:
        async with client_for(local_server, page_limit=5) as client:
            created = [await client.create_devbox({**BOX, "name": f"box-{n}"}) for n in range(12)]
            client.stats.reset()
            listed = await client.list_devboxes()
            assert sorted(d.id for d in listed) == sorted(d.id for d in created)
            assert len({d.id for d in listed}) == 12
            assert client.stats.by_route == {"GET /v1/devboxes": 3}

            client.stats.reset()
            assert len(await client.list_devboxes(status="shutdown")) == 0
            assert client.stats.total == 1

    run(scenario())


def test_default_page_lists_everything_in_one_request(local_server: Any) -> None:
    async def scenario() -> None:
        async with client_for(local_server) as client:
            for n in range(12):
                await client.create_devbox({**BOX, "name": f"box-{n}"})
            client.stats.reset()
            assert len(await client.list_devboxes()) == 12
            assert client.stats.total == 1

    run(scenario())


def test_devbox_reaches_running_and_runs_a_command(local_server: Any) -> None:
    async def scenario() -> None:
        async with client_for(local_server) as client:
            box = await client.create_devbox(BOX)
            running = await client.wait_for_devbox_status(box.id, ["running"], timeout=60)
            assert running.status == "running" and running.metadata == BOX["metadata"]
            done = await client.execute(box.id, "echo hello; echo oops >&2; exit 3")
            if done.status != "completed":
                done = await client.wait_for_execution(box.id, done.execution_id, timeout=60)
            assert (done.stdout, done.stderr, done.exit_status) == ("hello\n", "oops\n", 3)
            await client.shutdown_devbox(box.id)

    run(scenario())


def test_server_errors_map_to_our_classes(local_server: Any) -> None:
    async def scenario() -> None:
        async with client_for(local_server) as client:
            with pytest.raises(ApiNotFoundError):
                await client.get_devbox("dbx_doesnotexist000000000")
            obj = await client.create_object(name="x.txt", content_type="text")
            await client.complete_object(obj.id)
            with pytest.raises(ApiConflictError):
                await client.complete_object(obj.id)
            assert client.stats.by_route["POST /v1/objects/{id}/complete"] == 2
        async with RunloopClient(local_server.url, "wrong-key") as wrong:
            with pytest.raises(ApiAuthError):
                await wrong.list_devboxes()

    run(scenario())


def test_the_clients_now_is_the_apis_not_the_hosts(local_server: Any) -> None:
    from datetime import UTC, datetime, timedelta

    year = 365 * 86400
    local_server.control("/_local/clock", {"offset_seconds": year})

    async def scenario() -> None:
        async with client_for(local_server) as client:
            assert not client.api_clock.from_api  # nothing asked yet: the host's clock
            await client.list_devboxes()
            ahead = client.api_clock.now() - datetime.now(UTC)
            assert timedelta(days=364) < ahead < timedelta(days=366)
            warning = client.api_clock.skew_warning(format_duration)
            assert warning is not None and "behind the API's" in warning

    try:
        run(scenario())
    finally:
        local_server.control("/_local/clock", {"offset_seconds": 0})
