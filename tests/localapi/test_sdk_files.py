"""SDK sweep, files: read_file_contents, write_file_contents, upload_file (bytes, a path, a
(name, bytes) tuple, an open file) and download_file through the official SDK, checked from inside
the devbox with commands, plus the refusals a new user meets (missing file, a path off the disk)."""

from __future__ import annotations

from pathlib import Path

import pytest
from runloop_api_client import BadRequestError, NotFoundError, Runloop
from sdk_support import message_of


def test_write_then_read_and_the_devbox_sees_it(sdk: Runloop) -> None:
    box = sdk.devboxes.create_and_await_running()
    written = sdk.devboxes.write_file_contents(
        box.id, file_path="/home/user/app/config.json", contents='{"ünï": 1}\n'
    )
    assert (written.devbox_id, written.exit_status) == (box.id, 0)
    assert sdk.devboxes.read_file_contents(box.id, file_path="app/config.json") == '{"ünï": 1}\n'
    seen = sdk.devboxes.execute_and_await_completion(box.id, command="cat app/config.json")
    assert seen.stdout == '{"ünï": 1}\n'

    sdk.devboxes.write_file_contents(box.id, file_path="/tmp/scratch.txt", contents="tmp")
    assert sdk.devboxes.execute(box.id, command="cat /tmp/scratch.txt").stdout == "tmp"


def test_upload_every_file_shape_then_download(sdk: Runloop, tmp_path: Path) -> None:
    box = sdk.devboxes.create_and_await_running()
    local = tmp_path / "local.bin"
    local.write_bytes(bytes(range(256)))
    sdk.devboxes.upload_file(box.id, path="raw.bin", file=b"\x00raw\xff")
    sdk.devboxes.upload_file(box.id, path="from_path.bin", file=local)
    sdk.devboxes.upload_file(box.id, path="tuple.txt", file=("tuple.txt", b"tuple"))
    with open(local, "rb") as handle:
        sdk.devboxes.upload_file(box.id, path="dir/handle.bin", file=handle)

    sizes = sdk.devboxes.execute(box.id, command="stat -c '%n %s' *.bin tuple.txt dir/*").stdout
    assert (sizes or "").split("\n")[:-1] == [
        "from_path.bin 256",
        "raw.bin 5",
        "tuple.txt 5",
        "dir/handle.bin 256",
    ]
    downloaded = sdk.devboxes.download_file(box.id, path="/home/user/dir/handle.bin")
    assert downloaded.read() == bytes(range(256))
    target = tmp_path / "copy.bin"
    sdk.devboxes.download_file(box.id, path="raw.bin").write_to_file(target)
    assert target.read_bytes() == b"\x00raw\xff"


def test_missing_files_are_not_found_and_foreign_paths_refused(sdk_no_retry: Runloop) -> None:
    sdk = sdk_no_retry
    box = sdk.devboxes.create_and_await_running()
    with pytest.raises(NotFoundError) as missing:
        sdk.devboxes.read_file_contents(box.id, file_path="nope.txt")
    assert message_of(missing.value).startswith("file_path:")
    with pytest.raises(NotFoundError):
        sdk.devboxes.download_file(box.id, path="nope.txt")
    with pytest.raises(BadRequestError) as foreign:
        sdk.devboxes.write_file_contents(box.id, file_path="/etc/passwd", contents="x")
    assert message_of(foreign.value).startswith("file_path:")


def test_files_need_a_running_devbox(sdk_no_retry: Runloop) -> None:
    box = sdk_no_retry.devboxes.create_and_await_running()
    sdk_no_retry.devboxes.shutdown(box.id)
    with pytest.raises(BadRequestError, match="running devbox"):
        sdk_no_retry.devboxes.read_file_contents(box.id, file_path="x.txt")
