"""The per-stack lock file (`.rlstate/<stack>.lock`) that keeps two runs off one stack.

The lock is a file created with O_EXCL holding the holder's pid, host and start time. A lock
whose pid is dead on this host is stale and is broken; deciding that and breaking it happens
under a short flock on a guard file, so two runs cannot both break the same stale lock. It
must not decide anything else about a run.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconcile.errors import Interrupted, LockError

GUARD_NAME = ".lock-guard"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a stack's lock."""

    pid: int
    host: str
    started: str
    command: str = ""

    def describe(self) -> str:
        what = f" ({self.command})" if self.command else ""
        return f"pid {self.pid} on {self.host}{what}, since {self.started}"

    def to_json(self) -> str:
        data = {"pid": self.pid, "host": self.host, "started": self.started}
        if self.command:
            data["command"] = self.command
        return json.dumps(data) + "\n"


def lock_path(folder: Path, stack: str) -> Path:
    return Path(folder) / f"{stack}.lock"


def _me(command: str) -> LockHolder:
    started = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return LockHolder(os.getpid(), socket.gethostname(), started, command)


def read_holder(path: Path) -> LockHolder | None:
    """The holder written in a lock file; None when it cannot be read or parsed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockHolder(
            int(data["pid"]), str(data["host"]), str(data["started"]), str(data.get("command", ""))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(holder: LockHolder | None) -> bool:
    """A lock is stale when unreadable (its writer died mid-write) or its pid is dead here."""
    if holder is None:
        return True
    return holder.host == socket.gethostname() and not _pid_alive(holder.pid)


@contextmanager
def _guard(folder: Path) -> Iterator[None]:
    with open(folder / GUARD_NAME, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def acquire(folder: Path, stack: str, command: str = "") -> LockHolder:
    """Takes the stack's lock or raises LockError naming its holder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = lock_path(folder, stack)
    me = _me(command)
    with _guard(folder):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = read_holder(path)
            if not is_stale(holder):
                assert holder is not None
                raise LockError(
                    f"stack {stack!r} is locked by another rlstate run: {holder.describe()} "
                    f"(lock file {path})"
                ) from None
            path.unlink(missing_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(me.to_json())
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            path.unlink(missing_ok=True)  # never leave a half-written lock behind
            raise
    return me


def release(folder: Path, stack: str, me: LockHolder) -> None:
    """Removes the lock file if it is still ours (never someone else's)."""
    path = lock_path(Path(folder), stack)
    try:
        with _guard(Path(folder)):
            holder = read_holder(path)
            if holder is not None and (holder.pid, holder.host, holder.started) == (
                me.pid,
                me.host,
                me.started,
            ):
                path.unlink(missing_ok=True)
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise


class _SignalGate:
    """SIGINT/SIGTERM handling while a stack's lock is taken, held and let go: they raise
    Interrupted, except during taking and letting go, which they wait for (a lock file is
    never left half-written, nor left behind by a signal that came as it was removed)."""

    def __init__(self) -> None:
        self.closed = False
        self.pending: int | None = None

    def handle(self, signum: int, _frame: object) -> None:
        if self.closed:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)

    @contextmanager
    def shut(self) -> Iterator[None]:
        """Signals that arrive in the block are raised after it."""
        self.closed = True
        try:
            yield
        finally:
            self.closed = False
            if self.pending is not None:
                signum, self.pending = self.pending, None
                raise Interrupted(signum)


# The handlers a signal has when nobody took it over: only those are replaced.
_UNHANDLED = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}


@contextmanager
def _signals_unwind() -> Iterator[_SignalGate]:
    """While held, SIGTERM and SIGINT (unless someone else handles them) raise Interrupted,
    which unwinds the stack so `finally` blocks run and the CLI can say what happened.

    (The CLI's own handlers, installed first thing, only record; it checks for a signal once
    the lock is taken, so under the CLI this leaves the handlers alone.)"""
    gate = _SignalGate()
    if threading.current_thread() is not threading.main_thread():
        yield gate
        return
    previous = {sig: signal.getsignal(sig) for sig in _UNHANDLED}
    mine = [sig for sig, handler in previous.items() if handler is _UNHANDLED[sig]]
    for sig in mine:
        signal.signal(sig, gate.handle)
    try:
        yield gate
    finally:
        for sig in mine:
            signal.signal(sig, previous[sig])


@contextmanager
def stack_lock(folder: Path, stack: str, command: str = "") -> Iterator[LockHolder]:
    """Holds the stack's lock for the `with` block; released however the block ends
    (exceptions, and Ctrl-C or SIGTERM, which raise Interrupted while the lock is held)."""
    with _signals_unwind() as gate:
        me: LockHolder | None = None
        try:
            with gate.shut():  # a signal while taking it is raised once it is ours: let go
                me = acquire(folder, stack, command)
            yield me
        finally:
            if me is not None:
                with gate.shut():
                    release(folder, stack, me)
