"""Client scenarios recorded as cassettes: each drives one area of the API end to end.

They run unchanged against the local backend, the real cloud, or a cassette replay, so their
requests must be the same every run: fixed names, ids passed in (command ids, request ids),
and waits long enough that every long-poll asks for the full hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from cassette_support import make_vcr, no_sleep

from reconcile.api import Devbox, RunloopClient
from reconcile.errors import ApiBadRequestError, ApiConflictError, ApiNotFoundError

WAIT = 600.0
STACK = {"rlstate.stack": "cassette"}
Scenario = Callable[[RunloopClient], Awaitable[None]]


async def running_devbox(client: RunloopClient, name: str, **extra: object) -> Devbox:
    # A short keep-alive, so a devbox left by a failed live recording stops by itself.
    launch = {"keep_alive_time_seconds": 900}
    body = {"name": name, "metadata": STACK, "launch_parameters": launch, **extra}
    box = await client.create_devbox(body, request_id=f"cassette-create-{name}")
    box = await client.wait_for_devbox_status(box.id, ["running"], timeout=WAIT)
    assert box.status == "running", box
    return box


async def stopped(client: RunloopClient, devbox_id: str) -> None:
    await client.shutdown_devbox(devbox_id)
    box = await client.wait_for_devbox_status(devbox_id, ["shutdown"], timeout=WAIT)
    assert box.status == "shutdown"


async def devbox_lifecycle(client: RunloopClient) -> None:
    box = await running_devbox(client, "cassette-box")
    box = await client.update_devbox(box.id, metadata={**STACK, "note": "updated"})
    assert box.metadata == {**STACK, "note": "updated"}
    assert (await client.get_devbox(box.id)).name == "cassette-box"
    assert box.id in [d.id for d in await client.list_devboxes(status="running")]

    done = await client.execute(box.id, "echo hello", command_id="cassette-cmd-1")
    if done.status != "completed":
        done = await client.wait_for_execution(box.id, done.execution_id, timeout=WAIT)
    assert (done.stdout, done.exit_status) == ("hello\n", 0)
    started = await client.execute_async(box.id, "echo bye >&2; exit 3")
    finished = await client.wait_for_execution(box.id, started.execution_id, timeout=WAIT)
    assert (finished.stderr, finished.exit_status) == ("bye\n", 3)
    assert (await client.get_execution(box.id, started.execution_id)).status == "completed"

    await client.write_file_contents(box.id, "notes.txt", "line one\nline two\n")
    assert await client.read_file_contents(box.id, "notes.txt") == "line one\nline two\n"

    await client.suspend_devbox(box.id)
    box = await client.wait_for_devbox_status(box.id, ["suspended"], timeout=WAIT)
    assert box.status == "suspended"
    await client.resume_devbox(box.id)
    box = await client.wait_for_devbox_status(box.id, ["running"], timeout=WAIT)
    assert await client.read_file_contents(box.id, "notes.txt") == "line one\nline two\n"
    await stopped(client, box.id)


async def snapshot_and_restore(client: RunloopClient) -> None:
    box = await running_devbox(client, "cassette-source")
    await client.write_file_contents(box.id, "state.txt", "golden state\n")
    meta = {**STACK, "rlstate.name": "golden"}
    snap = await client.snapshot_disk_async(
        box.id, name="golden-1", metadata=meta, commit_message="first", request_id="cassette-snap"
    )
    status = await client.wait_for_snapshot(snap.id, timeout=WAIT)
    assert status.status == "complete", status

    found = await client.list_snapshots(
        metadata=STACK, metadata_in={"rlstate.name": ["golden", "nightly"]}
    )
    assert [s.id for s in found] == [snap.id]
    assert await client.list_snapshots(metadata={"rlstate.stack": "other"}) == []
    assert [s.id for s in await client.list_snapshots(devbox_id=box.id)] == [snap.id]
    renamed = await client.update_snapshot(snap.id, name="golden-renamed", metadata=meta)
    assert (renamed.name, renamed.source_devbox_id) == ("golden-renamed", box.id)

    restored = await running_devbox(client, "cassette-restored", snapshot_id=snap.id)
    assert restored.snapshot_id == snap.id
    assert await client.read_file_contents(restored.id, "state.txt") == "golden state\n"
    await stopped(client, restored.id)
    await stopped(client, box.id)
    await client.delete_snapshot(snap.id)
    assert await client.list_snapshots(metadata=STACK) == []


async def object_upload(client: RunloopClient) -> None:
    obj = await client.create_object(
        name="cassette.txt",
        content_type="text",
        metadata=STACK,
        ttl_ms=3_600_000,
        request_id="cassette-object",
    )
    assert obj.state == "UPLOADING" and obj.upload_url
    await client.upload_object_bytes(obj.upload_url, b"hello object\n", obj.upload_headers)
    done = await client.complete_object(obj.id)
    assert (done.state, done.size_bytes) == ("READ_ONLY", 13)
    assert (await client.get_object(obj.id)).metadata == STACK
    assert obj.id in [o.id for o in await client.list_objects(name="cassette")]
    url = await client.object_download_url(obj.id, duration_seconds=600)
    assert obj.id in url
    await client.delete_object(obj.id)


async def error_answers(client: RunloopClient) -> None:
    with pytest.raises(ApiNotFoundError):
        await client.get_devbox("dbx_0000000000000000000none")
    obj = await client.create_object(name="twice.txt", content_type="text")
    await client.complete_object(obj.id)
    with pytest.raises(ApiConflictError):
        await client.complete_object(obj.id)
    box = await client.create_devbox({"name": "cassette-errors", "metadata": STACK})
    with pytest.raises(ApiBadRequestError):
        await client.wait_for_devbox_status(box.id, ["nonsense"], timeout=WAIT)
    await client.delete_object(obj.id)
    await client.shutdown_devbox(box.id)


async def blueprint_build(client: RunloopClient) -> None:
    body = {
        "name": "cassette-bp",
        "system_setup_commands": ["echo built > /tmp/cassette-marker"],
        "metadata": STACK,
    }
    started = await client.create_blueprint(body, request_id="cassette-blueprint")
    built = await client.wait_for_blueprint(started.id, timeout=WAIT)
    assert built.status == "build_complete", built
    assert [b.id for b in await client.list_blueprints(name="cassette-bp")] == [built.id]
    assert (await client.get_blueprint(built.id)).metadata == STACK
    box = await running_devbox(client, "cassette-from-blueprint", blueprint_id=built.id)
    assert box.blueprint_id == built.id
    await stopped(client, box.id)


LOCAL_SCENARIOS: dict[str, Scenario] = {
    "devbox_lifecycle": devbox_lifecycle,
    "snapshot_and_restore": snapshot_and_restore,
    "object_upload": object_upload,
    "error_answers": error_answers,
    "blueprint_build": blueprint_build,
}

# The cloud only gets scenarios that tolerate other resources in the account.
CLOUD_SCENARIOS: dict[str, Scenario] = {
    "devbox_lifecycle": devbox_lifecycle,
    "object_upload": object_upload,
}


def play_cassette(
    scenario: Scenario,
    module: str,
    name: str,
    *,
    record: bool,
    url: str,
    key: str | None,
    placeholder: str,
) -> None:
    """Runs `scenario` recording to (or replaying from) cassettes/<module>/<name>.yaml.

    Replay talks to `placeholder` (never contacted) and skips the pauses between polls.
    """
    recorder = make_vcr(
        module, record=record, secret=key, origin=url if record else None, placeholder=placeholder
    )

    async def play() -> None:
        sleep = asyncio.sleep if record else no_sleep
        async with RunloopClient(url if record else placeholder, key, sleep=sleep) as client:
            await scenario(client)

    with recorder.use_cassette(f"{name}.yaml") as cassette:
        asyncio.run(play())
        if not record:
            assert cassette.all_played, "the client sent fewer requests than were recorded"
