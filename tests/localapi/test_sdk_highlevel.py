"""SDK sweep, the high-level objects: `RunloopSDK().devbox` (create, from_id, list, context
manager), `Devbox` (cmd.exec with callbacks, cmd.exec_async, file.*, logs, suspend/resume,
snapshot_disk(_async)), `Execution`, `ExecutionResult`, `Snapshot` (update, create_devbox, delete),
`sdk.snapshot`, and the same basics through `AsyncRunloopSDK`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from runloop_api_client import AsyncRunloopSDK
from sdk_support import FAST, high_level


def test_devbox_commands_with_callbacks_and_exec_async(local_server: Any) -> None:
    rl = high_level(local_server)
    devbox = rl.devbox.create(name="hl", environment_variables={"WHO": "sweep"})
    assert devbox.get_info().status == "running"
    seen: list[str] = []
    result = devbox.cmd.exec("echo hi $WHO; echo warn >&2; exit 5", output=seen.append)
    assert (result.exit_code, result.success, result.failed) == (5, False, True)
    assert (result.stdout(), result.stderr()) == ("hi sweep\n", "warn\n")
    assert sorted(seen) == ["hi sweep\n", "warn\n"]
    assert devbox.cmd.exec("seq 1 300").stdout(num_lines=2) == "299\n300"

    waiting = devbox.cmd.exec_async("sleep 0.3; echo later")
    assert waiting.get_state().status == "running"
    assert waiting.result().stdout() == "later\n"
    endless = devbox.cmd.exec_async("sleep 60")
    endless.kill()
    assert endless.result().exit_code == 137
    assert [log.cmd for log in devbox.logs().logs if log.cmd] == [
        "echo hi $WHO; echo warn >&2; exit 5",
        "seq 1 300",
        "sleep 0.3; echo later",
        "sleep 60",
    ]


def test_devbox_files_lifecycle_and_listing(local_server: Any, tmp_path: Path) -> None:
    rl = high_level(local_server)
    devbox = rl.devbox.create(name="files")
    devbox.file.write(file_path="notes.md", contents="# notes\n")
    assert devbox.file.read(file_path="notes.md") == "# notes\n"
    local = tmp_path / "blob.bin"
    local.write_bytes(b"\x00\x01\x02")
    devbox.file.upload(path="blob.bin", file=local)
    assert devbox.file.download(path="blob.bin") == b"\x00\x01\x02"

    assert devbox.keep_alive() == {}
    assert devbox.suspend(polling_config=FAST).status == "suspended"
    assert devbox.resume(polling_config=FAST).status == "running"
    assert devbox.file.read(file_path="notes.md") == "# notes\n"  # the disk survived
    assert devbox.get_tunnel() is None
    assert rl.devbox.from_id(devbox.id).id == devbox.id
    assert [d.id for d in rl.devbox.list(status="running")] == [devbox.id]
    with rl.devbox.create(name="scoped") as scoped:
        scoped_id = scoped.id
    assert rl.devbox.from_id(devbox.id).get_info().status == "running"
    assert rl.api.devboxes.retrieve(scoped_id).status == "shutdown"


def test_snapshots_through_the_wrappers(local_server: Any) -> None:
    rl = high_level(local_server)
    devbox = rl.devbox.create(name="snap-source")
    devbox.file.write(file_path="state.txt", contents="saved")
    snapshot = devbox.snapshot_disk(name="hl", metadata={"k": "v"}, polling_config=FAST)
    info = snapshot.get_info()
    assert info.status == "complete" and info.snapshot is not None
    assert info.snapshot.metadata == {"k": "v"}
    assert snapshot.update(name="renamed").name == "renamed"
    later = devbox.snapshot_disk_async(name="later")
    assert later.await_completed(polling_config=FAST).status == "complete"
    assert {s.id for s in rl.snapshot.list(devbox_id=devbox.id)} == {snapshot.id, later.id}

    devbox.file.write(file_path="state.txt", contents="changed")
    restored = snapshot.create_devbox(name="restored")
    assert restored.file.read(file_path="state.txt") == "saved"
    again = rl.devbox.create_from_snapshot(later.id)
    assert again.get_info().snapshot_id == later.id
    assert rl.snapshot.from_id(later.id).delete() == {}
    assert later.get_info().status == "deleted"


def test_the_async_sdk_runs_the_same_flow(local_server: Any) -> None:
    async def flow() -> tuple[str, str, str, str]:
        rl = AsyncRunloopSDK(base_url=local_server.url, bearer_token=local_server.token)
        devbox = await rl.devbox.create(name="async")
        result = await devbox.cmd.exec("echo async")
        await devbox.file.write(file_path="a.txt", contents="A")
        snapshot = await devbox.snapshot_disk(polling_config=FAST)
        obj = await rl.storage_object.upload_from_text("text", name="t.txt")
        text = await devbox.file.read(file_path="a.txt")
        await devbox.shutdown()
        status = (await snapshot.get_info()).status
        return await result.stdout(), text, status, await obj.download_as_text()

    stdout, text, status, downloaded = asyncio.run(flow())
    assert (stdout, status, downloaded) == ("async\n", "complete", "text")
    assert text == "A"
