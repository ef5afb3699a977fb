"""The official Runloop SDK (3.0), unchanged, against the local server over a real socket."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import httpx
from runloop_api_client import Runloop, RunloopSDK


def test_create_and_await_running_then_execute(sdk: Runloop) -> None:
    devbox = sdk.devboxes.create_and_await_running(
        name="sdk-box",
        environment_variables={"GREETING": "hello"},
        metadata={"team": "infra"},
        launch_parameters={"launch_commands": ["echo booted > /home/user/boot.txt"]},
    )
    assert devbox.status == "running"
    assert devbox.launch_parameters.resource_size_request == "SMALL"
    statuses = [t.status for t in devbox.state_transitions]
    assert statuses == ["provisioning", "initializing", "running"]

    result = sdk.devboxes.execute_and_await_completion(
        devbox.id, command="echo $GREETING; cat boot.txt; echo oops >&2; exit 3"
    )
    assert (result.status, result.exit_status) == ("completed", 3)
    assert result.stdout == "hello\nbooted\n"
    assert result.stderr == "oops\n"


def test_files_round_trip_text_and_binary(sdk: Runloop) -> None:
    devbox = sdk.devboxes.create_and_await_running(name="files")
    written = sdk.devboxes.write_file_contents(
        devbox.id, file_path="notes/a.txt", contents="héllo\n"
    )
    assert written.exit_status == 0
    assert sdk.devboxes.read_file_contents(devbox.id, file_path="notes/a.txt") == "héllo\n"

    payload = bytes(range(256)) * 64
    sdk.devboxes.upload_file(devbox.id, path="/home/user/blob.bin", file=("blob.bin", payload))
    downloaded = sdk.devboxes.download_file(devbox.id, path="blob.bin")
    assert downloaded.read() == payload


def test_async_snapshot_then_restore_finds_the_file(sdk: Runloop) -> None:
    source = sdk.devboxes.create_and_await_running(name="source")
    sdk.devboxes.write_file_contents(source.id, file_path="state.txt", contents="before snapshot")
    snapshot = sdk.devboxes.snapshot_disk_async(source.id, name="golden", metadata={"k": "v"})
    status = sdk.devboxes.disk_snapshots.query_status(snapshot.id)
    assert status.status == "complete"  # small snapshots finish before the first poll
    assert status.snapshot is not None and status.snapshot.metadata == {"k": "v"}
    sdk.devboxes.write_file_contents(source.id, file_path="state.txt", contents="after snapshot")

    restored = sdk.devboxes.create_and_await_running(snapshot_id=snapshot.id, name="restored")
    assert restored.snapshot_id == snapshot.id
    assert sdk.devboxes.read_file_contents(restored.id, file_path="state.txt") == "before snapshot"


def test_object_upload_complete_download(sdk: Runloop) -> None:
    content = b"\x00binary\xffcontent" * 1000
    created = sdk.objects.create(name="artifact.bin", content_type="binary")
    assert created.state == "UPLOADING" and created.upload_url
    put = httpx.put(created.upload_url, content=content)  # presigned: no API key
    assert put.status_code == 200
    completed = sdk.objects.complete(created.id)
    assert (completed.state, completed.size_bytes) == ("READ_ONLY", len(content))

    url = sdk.objects.download(created.id, duration_seconds=60).download_url
    assert httpx.get(url).content == content


def test_list_pages_through_twelve_devboxes_five_at_a_time(sdk: Runloop) -> None:
    made = {sdk.devboxes.create(name=f"box-{n}").id for n in range(12)}
    first = sdk.devboxes.list(limit=5)
    assert len(first.devboxes) == 5 and first.has_more and first.total_count == 12
    seen = [d.id for d in sdk.devboxes.list(limit=5)]  # the SDK follows the cursors
    assert len(seen) == 12 and set(seen) == made
    assert seen == sorted(seen, reverse=True)  # newest first, stable


def test_high_level_sdk_devbox_commands_files_and_snapshot(local_server: Any) -> None:
    rl = RunloopSDK(base_url=local_server.url, bearer_token=local_server.token)
    devbox = rl.devbox.create(name="high-level")
    result = devbox.cmd.exec("printf 'a\\nb\\n'")
    assert (result.exit_code, result.stdout()) == (0, "a\nb\n")
    devbox.file.write(file_path="x.txt", contents="x")
    assert devbox.file.read(file_path="x.txt") == "x"
    snapshot = devbox.snapshot_disk(name="hl")
    assert snapshot.get_info().status == "complete"
    devbox.shutdown()
    assert devbox.get_info().status == "shutdown"


def test_high_level_storage_object_and_archive_mount(local_server: Any) -> None:
    rl = RunloopSDK(base_url=local_server.url, bearer_token=local_server.token)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = b"tool v1\n"
        info = tarfile.TarInfo("bin/tool.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    obj = rl.storage_object.upload_from_bytes(
        archive.getvalue(), name="tool.tgz", content_type="tgz"
    )
    assert obj.download_as_bytes() == archive.getvalue()

    devbox = rl.devbox.create(
        name="mounted",
        mounts=[{"type": "object_mount", "object_id": obj.id, "object_path": "/home/user/tool"}],
    )
    assert devbox.file.read(file_path="tool/bin/tool.txt") == "tool v1\n"


def test_long_output_is_truncated_in_views_and_streamed_in_full(local_server: Any) -> None:
    rl = RunloopSDK(base_url=local_server.url, bearer_token=local_server.token)
    devbox = rl.devbox.create(name="long-output")
    result = devbox.cmd.exec("seq 1 500")
    assert result.result.stdout_truncated is True
    assert result.result.stdout.splitlines()[0] == "401"  # the view keeps the last 100 lines
    assert result.stdout().splitlines() == [str(n) for n in range(1, 501)]  # SSE gives the rest


def test_suspend_and_resume_keep_the_disk(sdk: Runloop) -> None:
    devbox = sdk.devboxes.create_and_await_running(name="suspended")
    sdk.devboxes.write_file_contents(devbox.id, file_path="kept.txt", contents="kept")
    sdk.devboxes.suspend(devbox.id)
    assert sdk.devboxes.await_suspended(devbox.id).status == "suspended"
    sdk.devboxes.resume(devbox.id)
    assert sdk.devboxes.await_running(devbox.id).status == "running"
    assert sdk.devboxes.read_file_contents(devbox.id, file_path="kept.txt") == "kept"
