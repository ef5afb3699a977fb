"""A write answered before a snapshot is in it: same-size rewrites in one timestamp tick.

The snapshot's hash cache skips files whose (size, mtime, ctime, inode) did not change. A
rewrite of the same size within one timestamp tick changes none of them, so the cache may only
trust files whose last change is clearly older than its stat. These tests take snapshots right
after same-size rewrites and restore them: through the official SDK on the shared server, and
(as root, where a loop mount is allowed) on a file system that stores whole seconds, where one
tick is a second long. RLSTATE_CAPTURE_ROUNDS sets the rounds per way of writing (default 4).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from runloop_api_client import Runloop
from sdk_support import FAST

from reconcile.localapi.disk.blobs import BlobStore
from reconcile.localapi.disk.cache import RACY_MARGIN_NS, HashCache, SmallIndex
from reconcile.localapi.disk.capture import Capture
from reconcile.localapi.disk.manifest import Entry

ROUNDS = int(os.environ.get("RLSTATE_CAPTURE_ROUNDS", "4"))
TOKEN = "test-token-not-secret"
Writer = Callable[[Runloop, str, str], None]


def _write_contents(sdk: Runloop, box: str, text: str) -> None:
    sdk.devboxes.write_file_contents(box, file_path="state.txt", contents=text)


def _upload(sdk: Runloop, box: str, text: str) -> None:
    sdk.devboxes.upload_file(box, path="state.txt", file=text.encode())


def _shell(sdk: Runloop, box: str, text: str) -> None:
    done = sdk.devboxes.execute_sync(box, command=f"printf %s {text} > state.txt")
    assert done.exit_status == 0, done


WRITERS: dict[str, Writer] = {
    "write_file_contents": _write_contents,
    "upload_file": _upload,
    "execute_sync": _shell,
}


def _next_second() -> None:
    """Wait until the wall clock passes a whole second: what follows shares one second."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.005)


def _rounds(
    sdk: Runloop,
    control: Callable[[dict[str, object]], object],
    write: Writer,
    *,
    pair_in_one_second: bool = False,
) -> None:
    """Rewrite one file with new text of the same size and snapshot it, ROUNDS times in quick
    succession (every other one with snapshot_disk_async, after moving the server's clock);
    then every snapshot, restored into a new devbox, must hold the text written just before it."""
    box = sdk.devboxes.create_and_await_running(name="writer").id
    taken: list[tuple[str, str]] = []
    for i in range(ROUNDS):
        if pair_in_one_second and i % 2 == 0:
            _next_second()  # rounds i and i + 1 then (nearly always) fall in one second
        text = f"round-{i:04d}"
        write(sdk, box, text)
        if i % 2:
            control({"advance_seconds": 86400})  # a simulated night; files keep real times
            started = sdk.devboxes.snapshot_disk_async(box)
            done = sdk.devboxes.disk_snapshots.await_completed(started.id, polling_config=FAST)
            assert done.status == "complete", done
            taken.append((started.id, text))
        else:
            taken.append((sdk.devboxes.snapshot_disk(box).id, text))
    wrong = []
    for snapshot_id, text in taken:
        restored = sdk.devboxes.create_and_await_running(snapshot_id=snapshot_id).id
        got = sdk.devboxes.read_file_contents(restored, file_path="state.txt")
        if got != text:
            wrong.append((text, got))
        sdk.devboxes.shutdown(restored)
    assert wrong == [], f"snapshots missing the write just before them (wanted, got): {wrong}"


@pytest.mark.parametrize("how", sorted(WRITERS))
def test_same_size_rewrites_reach_the_snapshot(sdk: Runloop, local_server: Any, how: str) -> None:
    _rounds(sdk, lambda body: local_server.control("/_local/clock", body), WRITERS[how])


@pytest.fixture(scope="module")
def whole_second_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local server whose data lives on ext4 with 128-byte inodes (whole-second times)."""
    if os.geteuid() != 0 or not (shutil.which("mkfs.ext4") and shutil.which("mount")):
        pytest.skip("needs root, mkfs.ext4 and mount to loop-mount a whole-second file system")
    base = tmp_path_factory.mktemp("coarse")
    image, mnt = base / "fs.img", base / "mnt"
    mnt.mkdir()
    with image.open("wb") as f:
        f.truncate(64 << 20)
    for argv in (
        ["mkfs.ext4", "-q", "-F", "-I", "128", str(image)],  # 128-byte inodes: whole seconds
        ["mount", "-o", "loop", str(image), str(mnt)],
    ):
        if subprocess.run(argv, capture_output=True, check=False).returncode != 0:
            pytest.skip(f"cannot loop-mount a file system here ({argv[0]} failed)")
    from reconcile.localapi import LocalConfig, start_in_thread

    try:
        (mnt / "probe").write_bytes(b"probe")
        if (mnt / "probe").stat().st_ctime_ns % 10**9:
            pytest.skip("this mkfs.ext4 made a file system with sub-second times")
        config = LocalConfig(data_dir=mnt / "data", port=0, token=TOKEN, transition_seconds=0.05)
        server = start_in_thread(config)
        try:
            yield server
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("how", sorted(WRITERS))
def test_same_second_rewrites_reach_the_snapshot_on_a_whole_second_fs(
    whole_second_server: Any, how: str
) -> None:
    import httpx

    def control(body: dict[str, object]) -> object:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{whole_second_server.url}/_local/clock"
        return httpx.post(url, json=body, headers=headers, timeout=30).raise_for_status()

    with Runloop(base_url=whole_second_server.url, bearer_token=TOKEN) as sdk:
        _rounds(sdk, control, WRITERS[how], pair_in_one_second=True)


class _LatePool(ThreadPoolExecutor):
    """A real thread pool that notes when the snapshot first hands it work, then waits until
    the clock has passed `not_before_ns` (as on a big disk, where the walk takes a while)."""

    def __init__(self, not_before_ns: int) -> None:
        super().__init__(max_workers=2)
        self.not_before_ns = not_before_ns
        self.first_submit_ns = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.first_submit_ns = self.first_submit_ns or time.time_ns()
        while time.time_ns() < self.not_before_ns:
            time.sleep(0.01)
        return super().submit(fn, *args, **kwargs)


def test_a_file_changed_just_before_its_stat_is_read_again_after_a_long_snapshot(
    tmp_path: Path,
) -> None:
    """A file written just before the snapshot's stat could be rewritten in the same tick right
    after it, unseen: the next snapshot must read it again, however long this one took."""
    disk, blobs = tmp_path / "disk", BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    disk.mkdir()
    (disk / "f").write_bytes(b"before")
    written = (disk / "f").stat().st_ctime_ns
    pool = _LatePool(not_before_ns=written + 4 * RACY_MARGIN_NS)
    with pool:
        capture = Capture(blobs.new_batch(), pool, SmallIndex())
        capture.run(disk)
    if pool.first_submit_ns - written > RACY_MARGIN_NS // 2:
        pytest.skip("the machine stalled between the write and the snapshot's first stat")
    assert capture.cache.lookup("f", (disk / "f").stat()) is None


def test_whole_second_ctimes_are_trusted_only_two_seconds_later(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("abc")
    st = os.stat_result(
        (*os.stat(tmp_path / "f")[:7], 7, 7, 7),
        {"st_mtime_ns": 7 * 10**9, "st_ctime_ns": 7 * 10**9, "st_atime_ns": 7 * 10**9},
    )
    entry = Entry("f", "f", 0o644, 0, 0, st.st_mtime_ns, 3, (("x" * 64, 0, 3),))
    for sealed_ns, trusted in ((7 * 10**9 + 900_000_000, False), (9 * 10**9 + 1, True)):
        cache = HashCache(written_ns=sealed_ns)
        cache.record("f", st, entry)
        assert (cache.lookup("f", st) is not None) is trusted, sealed_ns
