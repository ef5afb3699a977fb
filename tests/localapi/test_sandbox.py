"""Sandbox behaviour common to both modes: output, exit codes, env, persistence, kill.

Every test runs in "bubblewrap" (skipped where bwrap is absent) and in "subprocess" mode.
Isolation guarantees that only bubblewrap gives are in test_isolation.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from reconcile.localapi.disk import DiskError, DiskStore
from reconcile.localapi.sandbox import Sandbox

HAS_BWRAP = shutil.which("bwrap") is not None
MODES = [
    pytest.param(
        "bubblewrap",
        marks=pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap (bwrap) is not installed"),
    ),
    "subprocess",
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DiskStore]:
    ds = DiskStore(tmp_path / "store")
    ds.create_disk("dbx_one")
    yield ds
    ds.close()


@pytest.fixture(params=MODES)
def sandbox(request: pytest.FixtureRequest, store: DiskStore) -> Sandbox:
    return Sandbox(store, hidden_paths=[store.root], force_mode=request.param)


def run(
    sandbox: Sandbox, command: str, env: Mapping[str, str] | None = None, box: str = "dbx_one"
) -> tuple[int, str, str]:
    async def go() -> tuple[int, str, str]:
        proc = await sandbox.spawn(box, command, env or {})
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    return asyncio.run(go())


def test_mode_is_reported_and_validated(store: DiskStore) -> None:
    assert Sandbox(store, force_mode="subprocess").mode == "subprocess"
    assert Sandbox(store).mode == ("bubblewrap" if HAS_BWRAP else "subprocess")
    with pytest.raises(ValueError, match="force_mode"):
        Sandbox(store, force_mode="docker")


def test_output_and_exit_status(sandbox: Sandbox) -> None:
    assert run(sandbox, "echo out; echo err >&2; exit 3") == (3, "out\n", "err\n")


def test_stdin_is_empty(sandbox: Sandbox) -> None:
    assert run(sandbox, "cat; echo done") == (0, "done\n", "")


def test_runs_in_home_with_the_devbox_environment(sandbox: Sandbox, store: DiskStore) -> None:
    code, out, _ = run(sandbox, 'echo "$PWD|$HOME|$GREETING|$USER"', {"GREETING": "hi there"})
    home = (
        "/home/user"
        if sandbox.mode == "bubblewrap"
        else str(store.disk_path("dbx_one") / "home/user")
    )
    assert (code, out) == (0, f"{home}|{home}|hi there|user\n")


def test_host_environment_does_not_leak_in(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLSTATE_SERVER_ONLY", "leaked")
    assert run(sandbox, 'echo "[${RLSTATE_SERVER_ONLY:-}]"') == (0, "[]\n", "")


def test_files_written_by_commands_persist_and_reach_the_disk(
    sandbox: Sandbox, store: DiskStore
) -> None:
    assert run(sandbox, "mkdir -p proj && echo one > proj/a.txt")[0] == 0
    assert run(sandbox, "cat proj/a.txt") == (0, "one\n", "")
    assert store.read_file("dbx_one", "proj/a.txt") == b"one\n"


def test_files_written_by_the_server_are_writable_by_commands(
    sandbox: Sandbox, store: DiskStore
) -> None:
    store.write_file("dbx_one", "config/settings.ini", b"a=1\n")
    assert run(sandbox, "echo b=2 >> config/settings.ini && touch config/new")[0] == 0
    assert store.read_file("dbx_one", "config/settings.ini") == b"a=1\nb=2\n"


def test_snapshot_of_command_output_restores_into_another_devbox(
    sandbox: Sandbox, store: DiskStore
) -> None:
    run(sandbox, "echo built > artifact && chmod 700 artifact")
    store.save_image("dbx_one", "snp_art")
    store.create_disk("dbx_two", "snp_art")
    assert run(sandbox, "cat artifact && stat -c %a artifact", box="dbx_two") == (
        0,
        "built\n700\n",
        "",
    )


def test_secrets_are_not_on_the_host_command_line(sandbox: Sandbox) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"

    async def go() -> bytes:
        proc = await sandbox.spawn("dbx_one", "sleep 5", {"API_KEY": secret})
        try:
            cmdlines = b"".join(_cmdlines())
        finally:
            await sandbox.kill(proc)
            await proc.wait()
        return cmdlines

    assert secret.encode() not in asyncio.run(go())


def _cmdlines() -> Iterator[bytes]:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                yield Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue


def test_kill_stops_the_command_and_its_children(sandbox: Sandbox) -> None:
    marker = f"rlstate-kill-{uuid.uuid4().hex[:12]}"

    async def go() -> int:
        proc = await sandbox.spawn("dbx_one", f"(exec -a {marker} sleep 300) & echo up; wait", {})
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"up\n"
        assert await _until(lambda: _alive(marker)), "the child runs before the kill"
        await sandbox.kill(proc)
        code = await proc.wait()
        await _until(lambda: not _alive(marker))  # a namespace is reaped asynchronously
        return code

    assert asyncio.run(go()) != 0
    assert not _alive(marker)


async def _until(condition: Callable[[], bool]) -> bool:
    """Poll a condition about other processes (there is nothing to await); False after 60 s
    (a busy machine can take seconds to start or reap one)."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _alive(marker: str) -> bool:
    return any(line.startswith(marker.encode()) for line in _cmdlines())


def test_kill_of_a_finished_command_is_harmless(sandbox: Sandbox) -> None:
    async def go() -> int | None:
        proc = await sandbox.spawn("dbx_one", "true", {})
        await proc.wait()
        await sandbox.kill(proc)
        return proc.returncode

    assert asyncio.run(go()) == 0


def test_spawn_without_a_disk_fails(sandbox: Sandbox) -> None:
    with pytest.raises(DiskError, match="no disk"):
        run(sandbox, "true", box="dbx_absent")


def test_a_disk_whose_home_is_a_symlink_is_refused(
    sandbox: Sandbox, store: DiskStore, tmp_path: Path
) -> None:
    """The sandbox binds host paths; a symlinked home would expose the link's target."""
    home = store.disk_path("dbx_one") / "home/user"
    shutil.rmtree(home)
    (tmp_path / "victim").mkdir()
    os.symlink(tmp_path / "victim", home)
    with pytest.raises(DiskError, match="damaged"):
        run(sandbox, "touch planted")
    assert list((tmp_path / "victim").iterdir()) == []


@pytest.mark.parametrize(
    ("command", "env"),
    [
        pytest.param("echo a\0b", {}, id="nul-in-command"),
        pytest.param("true", {"K": "v\0w"}, id="nul-in-env-value"),
        pytest.param("true", {"A=B": "v"}, id="equals-in-env-name"),
    ],
)
def test_commands_that_cannot_be_started_raise_oserror(
    sandbox: Sandbox, command: str, env: dict[str, str]
) -> None:
    with pytest.raises(OSError, match="cannot start"):
        run(sandbox, command, env)
