"""The stack lock with real files and real processes: contention, stale locks, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconcile.apply.lock import acquire, lock_path, release, stack_lock
from reconcile.errors import LockError

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from pathlib import Path
from reconcile.apply.lock import stack_lock
with stack_lock(Path(sys.argv[1]), "demo", "apply"):
    print("held", flush=True)
    time.sleep(120)
"""


@contextmanager
def holder_process(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """A real process that holds the lock of stack "demo" until it is signalled."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_second_run_in_the_same_process_is_refused(tmp_path: Path) -> None:
    holder = rf"pid {os.getpid()} on {socket.gethostname()}"
    with stack_lock(tmp_path, "demo", "apply"), pytest.raises(LockError, match=holder):
        acquire(tmp_path, "demo")
    assert not lock_path(tmp_path, "demo").exists()


def test_stacks_lock_separately(tmp_path: Path) -> None:
    with stack_lock(tmp_path, "one"), stack_lock(tmp_path, "two"):
        assert lock_path(tmp_path, "one").exists() and lock_path(tmp_path, "two").exists()


def test_a_live_holder_process_is_named_and_its_death_frees_the_stack(tmp_path: Path) -> None:
    with holder_process(tmp_path) as proc:
        with pytest.raises(LockError, match=rf"pid {proc.pid} .*\(apply\)"):
            acquire(tmp_path, "demo")
        proc.kill()
        proc.wait()
    # SIGKILL left the file behind; its pid is dead on this host, so the lock is stale.
    assert lock_path(tmp_path, "demo").exists()
    me = acquire(tmp_path, "demo")
    assert json.loads(lock_path(tmp_path, "demo").read_text())["pid"] == os.getpid()
    release(tmp_path, "demo", me)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_lock_is_released_when_the_holder_is_signalled(tmp_path: Path, signum: int) -> None:
    with holder_process(tmp_path) as proc:
        proc.send_signal(signum)
        proc.wait()
        assert not lock_path(tmp_path, "demo").exists()


@pytest.mark.parametrize(
    ("content", "stale"),
    [
        ("", True),
        ("{not json", True),
        (json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname(), "started": "x"}), True),
        (json.dumps({"pid": 2**22 + 12345, "host": "elsewhere.example", "started": "x"}), False),
        (json.dumps({"pid": 1, "host": socket.gethostname(), "started": "x"}), False),
    ],
    ids=["empty", "garbled", "dead-pid-here", "other-host", "live-pid-here"],
)
def test_which_existing_locks_are_stale(tmp_path: Path, content: str, stale: bool) -> None:
    lock_path(tmp_path, "demo").write_text(content)
    if stale:
        release(tmp_path, "demo", acquire(tmp_path, "demo"))
        assert not lock_path(tmp_path, "demo").exists()
    else:
        with pytest.raises(LockError, match="locked by another rlstate run"):
            acquire(tmp_path, "demo")
        assert lock_path(tmp_path, "demo").read_text() == content


def test_release_never_removes_someone_elses_lock(tmp_path: Path) -> None:
    me = acquire(tmp_path, "demo")
    theirs = {"pid": 1, "host": socket.gethostname(), "started": "2026-01-01T00:00:00Z"}
    lock_path(tmp_path, "demo").write_text(json.dumps(theirs))
    release(tmp_path, "demo", me)
    assert lock_path(tmp_path, "demo").exists()
