"""Every answer the local server gives the official SDK matches the Runloop OpenAPI spec.

Each test drives one area through the unchanged SDK (3.0) over a recording transport, then checks
every recorded 200 against its operation's response schema (paths the spec lacks, such as
create_and_await_running, against the operation they alias), every error answer for a JSON
`message`, and that the scenario really reached the operations it claims to cover.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from conformance_support import (
    Exchange,
    RecordingTransport,
    error_body_problem,
    load_spec,
    operation_id,
    response_problems,
)
from openapi_core import OpenAPI
from runloop_api_client import NotFoundError, Runloop
from runloop_api_client.lib.polling import PollingConfig

from tests.conftest import shared_path

FAST_POLL = PollingConfig(interval_seconds=0.05, max_attempts=600)


@dataclass
class Recorded:
    """The SDK and a raw client, both over one recording transport."""

    sdk: Runloop
    http: httpx.Client
    transport: RecordingTransport


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return load_spec(shared_path("runloop-openapi", "runloop-api-openapi.yml"))


@pytest.fixture
def rec(local_server: Any) -> Iterator[Recorded]:
    transport = RecordingTransport()
    headers = {"Authorization": f"Bearer {local_server.token}"}
    with (
        httpx.Client(transport=transport, timeout=60) as sdk_http,
        httpx.Client(
            transport=transport, base_url=local_server.url, headers=headers, timeout=60
        ) as raw,
    ):
        sdk = Runloop(
            base_url=local_server.url,
            bearer_token=local_server.token,
            http_client=sdk_http,
            max_retries=0,  # with_options would drop the recording client
        )
        yield Recorded(sdk, raw, transport)


def assert_conformant(spec: OpenAPI, rec: Recorded, expected_ops: set[str]) -> None:
    problems: list[str] = []
    covered: set[str] = set()
    for exchange in rec.transport.exchanges:
        op = operation_id(spec, exchange.method, exchange.path)
        assert op is not None, f"{exchange.label()}: not an operation of the spec"
        if exchange.status == 200:
            covered.add(op)
            problems += [
                f"{exchange.label()} [{op}]: {p}" for p in response_problems(spec, exchange)
            ]
        elif (why := error_body_problem(exchange)) is not None:
            problems.append(f"{exchange.label()} [{op}]: error body {why}")
    assert not problems, "\n".join(problems)
    assert expected_ops <= covered, f"scenario never got a 200 from {expected_ops - covered}"


def test_devbox_lifecycle(spec: OpenAPI, rec: Recorded) -> None:
    sdk = rec.sdk
    plain = sdk.devboxes.create(name="plain", metadata={"team": "infra"})
    sdk.devboxes.await_running(plain.id)
    box = sdk.devboxes.create_and_await_running(
        name="full",
        metadata={"team": "infra", "tier": "gold"},
        environment_variables={"A": "1"},
        launch_parameters={
            "launch_commands": ["echo booted"],
            "resource_size_request": "MEDIUM",
            "keep_alive_time_seconds": 600,
            "after_idle": {"idle_time_seconds": 300, "on_idle": "suspend"},
        },
    )
    assert box.status == "running"
    sdk.devboxes.retrieve(box.id)
    assert sdk.devboxes.update(box.id, name="renamed", metadata={"team": "data"}).name == "renamed"
    assert {d.id for d in sdk.devboxes.list(limit=1)} == {plain.id, box.id}  # pages of one
    assert [d.id for d in sdk.devboxes.list(status="running", limit=50).devboxes]
    sdk.devboxes.keep_alive(box.id)
    sdk.devboxes.suspend(box.id)
    assert sdk.devboxes.await_suspended(box.id).status == "suspended"
    sdk.devboxes.resume(box.id)
    assert sdk.devboxes.await_running(box.id).status == "running"
    assert sdk.devboxes.shutdown(plain.id).status == "shutdown"
    assert sdk.devboxes.retrieve(plain.id).shutdown_reason == "api_shutdown"
    rec.http.get("/v1/devboxes/metadata/keys").raise_for_status()
    rec.http.get("/v1/devboxes/metadata/keys/team/values").raise_for_status()
    with pytest.raises(NotFoundError):
        sdk.devboxes.retrieve("dbx_000000000000000000000")
    assert_conformant(
        spec,
        rec,
        {
            "createDevbox",
            "waitForDevboxStatus",
            "getDevbox",
            "updateDevbox",
            "listDevboxes",
            "keepAliveDevbox",
            "suspendDevbox",
            "resumeDevbox",
            "shutdownDevbox",
            "getDevboxMetadataKeys",
            "getDevboxMetadataValues",
        },
    )


def test_commands_and_executions(spec: OpenAPI, rec: Recorded) -> None:
    sdk = rec.sdk
    box = sdk.devboxes.create_and_await_running(name="exec")
    done = sdk.devboxes.execute(box.id, command="echo hi; echo err >&2; exit 4", command_id="c-1")
    assert (done.status, done.exit_status, done.stdout) == ("completed", 4, "hi\n")
    awaited = sdk.devboxes.execute_and_await_completion(box.id, command="seq 3")
    assert awaited.stdout == "1\n2\n3\n"
    started = sdk.devboxes.execute_async(box.id, command="sleep 0.2; echo late")
    sdk.devboxes.executions.retrieve(started.execution_id, devbox_id=box.id)
    waited = sdk.devboxes.wait_for_command(
        started.execution_id, devbox_id=box.id, statuses=["completed"], timeout_seconds=25
    )
    assert waited.stdout == "late\n"
    sdk.devboxes.executions.await_completed(started.execution_id, devbox_id=box.id)
    chunks = sdk.devboxes.executions.stream_stdout_updates(started.execution_id, devbox_id=box.id)
    assert "".join(c.output for c in chunks) == "late\n"
    errors = sdk.devboxes.executions.stream_stderr_updates(started.execution_id, devbox_id=box.id)
    assert [c.output for c in errors] == []
    sleeper = sdk.devboxes.execute_async(box.id, command="sleep 60")
    killed = sdk.devboxes.executions.kill(sleeper.execution_id, devbox_id=box.id)
    assert killed.status == "completed"
    assert sdk.devboxes.execute_sync(box.id, command="printf x").stdout == "x"
    assert_conformant(
        spec,
        rec,
        {
            "executeCommand",
            "execAsyncCommand",
            "queryAsyncCommand",
            "waitForCommandCompletion",
            "killAsyncExecution",
            "execSyncCommand",
            "streamStdOutUpdates",
            "streamStdErrUpdates",
        },
    )


def test_files(spec: OpenAPI, rec: Recorded) -> None:
    sdk = rec.sdk
    box = sdk.devboxes.create_and_await_running(name="files")
    written = sdk.devboxes.write_file_contents(box.id, file_path="a/b.txt", contents="héllo\n")
    assert written.exit_status == 0
    assert sdk.devboxes.read_file_contents(box.id, file_path="a/b.txt") == "héllo\n"
    payload = bytes(range(256)) * 8
    sdk.devboxes.upload_file(box.id, path="blob.bin", file=("blob.bin", payload))
    assert sdk.devboxes.download_file(box.id, path="blob.bin").read() == payload
    sdk.devboxes.write_file_contents(box.id, file_path="résumé ✓.txt", contents="cv")
    named = rec.http.post(f"/v1/devboxes/{box.id}/download_file", json={"path": "résumé ✓.txt"})
    assert named.content == b"cv"
    assert (
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%9C%93.txt" in named.headers["content-disposition"]
    )
    with pytest.raises(NotFoundError):
        sdk.devboxes.read_file_contents(box.id, file_path="missing.txt")
    assert_conformant(
        spec,
        rec,
        {
            "devboxWriteFileContents",
            "devboxReadFileContents",
            "devboxUploadFile",
            "devboxDownloadFile",
        },
    )


def test_disk_snapshots(spec: OpenAPI, rec: Recorded) -> None:
    sdk = rec.sdk
    box = sdk.devboxes.create_and_await_running(name="snap-src")
    sdk.devboxes.write_file_contents(box.id, file_path="state.txt", contents="v1")
    sync = sdk.devboxes.snapshot_disk(
        box.id, name="sync", metadata={"series": "nightly", "n": "1"}, commit_message="first"
    )
    started = sdk.devboxes.snapshot_disk_async(box.id, name="async", metadata={"series": "adhoc"})
    sdk.devboxes.disk_snapshots.query_status(started.id)
    assert sdk.devboxes.disk_snapshots.await_completed(started.id).status == "complete"
    snaps = sdk.devboxes.disk_snapshots
    assert {s.id for s in snaps.list(devbox_id=box.id)} == {sync.id, started.id}
    nightly = snaps.list(extra_query={"metadata[series]": "nightly"}).snapshots
    assert [s.id for s in nightly] == [sync.id]
    either = snaps.list(extra_query={"metadata[series][in]": "nightly,adhoc"}, limit=1)
    assert {s.id for s in either} == {sync.id, started.id}
    assert [s.id for s in sdk.devboxes.list_disk_snapshots(devbox_id=box.id)]
    updated = snaps.update(sync.id, name="sync-renamed", metadata={"series": "weekly"})
    assert (updated.name, updated.metadata) == ("sync-renamed", {"series": "weekly"})
    restored = sdk.devboxes.create_and_await_running(snapshot_id=sync.id)
    assert sdk.devboxes.read_file_contents(restored.id, file_path="state.txt") == "v1"
    rec.http.get("/v1/devboxes/disk_snapshots/metadata/keys").raise_for_status()
    rec.http.get("/v1/devboxes/disk_snapshots/metadata/keys/series/values").raise_for_status()
    snaps.delete(started.id)
    assert snaps.query_status(started.id).status == "deleted"
    assert_conformant(
        spec,
        rec,
        {
            "createDiskSnapshot",
            "createDiskSnapshotAsync",
            "queryDiskSnapshotAsync",
            "getDevboxDiskSnapshotList",
            "updateDiskSnapshot",
            "deleteSnapshot",
            "getSnapshotMetadataKeys",
            "getSnapshotMetadataValues",
        },
    )


def test_objects(spec: OpenAPI, rec: Recorded) -> None:
    sdk = rec.sdk
    created = sdk.objects.create(
        name="notes.txt", content_type="text", metadata={"k": "v"}, ttl_ms=3_600_000
    )
    assert created.upload_url and created.state == "UPLOADING"
    assert httpx.put(created.upload_url, content=b"some text\n").status_code == 200
    done = sdk.objects.complete(created.id)
    assert (done.state, done.size_bytes) == ("READ_ONLY", 10)
    empty = sdk.objects.create(name="empty.bin", content_type="binary")
    sdk.objects.complete(empty.id)
    sdk.objects.retrieve(created.id)
    assert {o.id for o in sdk.objects.list(limit=1)} == {created.id, empty.id}
    assert [o.id for o in sdk.objects.list(content_type="text").objects] == [created.id]
    assert [o.id for o in sdk.objects.list(name="empty", state="READ_ONLY").objects] == [empty.id]
    assert [o.id for o in sdk.objects.list(search=created.id).objects] == [created.id]
    url = sdk.objects.download(created.id, duration_seconds=60).download_url
    assert httpx.get(url).content == b"some text\n"
    assert sdk.objects.delete(empty.id).state == "DELETED"
    sdk.objects.list_public()
    assert_conformant(
        spec,
        rec,
        {
            "createObject",
            "completeObject",
            "getObject",
            "listObjects",
            "generateDownloadUrl",
            "deleteObject",
            "listPublicObjects",
        },
    )


def test_blueprints(spec: OpenAPI, rec: Recorded) -> None:
    sdk = rec.sdk
    created = sdk.blueprints.create(
        name="tools",
        dockerfile="FROM ubuntu\nRUN echo built > /home/user/built.txt\n",
        system_setup_commands=["echo setup"],
        launch_parameters={"resource_size_request": "LARGE"},
        metadata={"team": "infra"},
    )
    built = sdk.blueprints.await_build_complete(created.id, polling_config=FAST_POLL)
    assert built.status == "build_complete"
    sdk.blueprints.retrieve(created.id)
    assert [b.id for b in sdk.blueprints.list(name="tools").blueprints] == [created.id]
    sdk.blueprints.logs(created.id)
    sdk.blueprints.list_public()
    box = sdk.devboxes.create_and_await_running(blueprint_name="tools")
    assert sdk.devboxes.read_file_contents(box.id, file_path="built.txt") == "built\n"
    sdk.devboxes.shutdown(box.id)
    sdk.blueprints.delete(created.id)
    with pytest.raises(NotFoundError):
        sdk.blueprints.retrieve("bpt_000000000000000000000")
    assert_conformant(
        spec,
        rec,
        {
            "createBlueprint",
            "getBlueprint",
            "listImages",
            "blueprintLogs",
            "listPublicBlueprints",
            "deleteBlueprint",
        },
    )


def _devbox_exchange(rec: Recorded) -> Exchange:
    rec.http.post("/v1/devboxes", json={"name": "probe"}).raise_for_status()
    (exchange,) = rec.transport.exchanges
    return exchange


BROKEN_DEVBOX_VIEWS = {
    "status outside the enum": lambda v: {**v, "status": "sleeping"},
    "required id missing": lambda v: {k: x for k, x in v.items() if k != "id"},
    "field the schema does not declare": lambda v: {**v, "remaining_count": 0},
    "metadata value not a string": lambda v: {**v, "metadata": {"k": 1}},
    "transition time a string": lambda v: {
        **v,
        "state_transitions": [{"status": "provisioning", "transition_time_ms": "soon"}],
    },
    "null beside a $ref (why views omit absent fields)": lambda v: {**v, "shutdown_reason": None},
}


@pytest.mark.parametrize("breakage", BROKEN_DEVBOX_VIEWS, ids=list(BROKEN_DEVBOX_VIEWS))
def test_the_validation_refuses_a_broken_devbox_view(
    spec: OpenAPI, rec: Recorded, breakage: str
) -> None:
    exchange = _devbox_exchange(rec)
    assert response_problems(spec, exchange) == []
    broken = BROKEN_DEVBOX_VIEWS[breakage](exchange.json())
    assert response_problems(spec, replace(exchange, body=json.dumps(broken).encode()))


def test_an_off_spec_path_is_checked_as_the_operation_it_aliases(
    spec: OpenAPI, rec: Recorded
) -> None:
    rec.http.post("/v1/devboxes/create_and_await_running", json={}).raise_for_status()
    (exchange,) = rec.transport.exchanges
    assert operation_id(spec, exchange.method, exchange.path) == "createDevbox"
    broken = {**exchange.json(), "status": "sleeping"}
    assert response_problems(spec, replace(exchange, body=json.dumps(broken).encode()))
