"""The stack-lock interface every lock backend implements (a file beside the manifest, PostgreSQL).

A backend is asked for one stack at a time, named by a StackKey (the stack and the API it
talks to: the same stack name on another API is another stack). `try_acquire` never waits:
it returns the held lock, or who holds it; the caller (`reconcile.commands.runlock`) does the
waiting, so every engine gets the same timeout and interrupt handling. A held lock answers
`check_held()` before each write of the run. Nothing here imports a database driver.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class StackKey:
    """One stack on one API: what a lock excludes."""

    stack: str
    api: str


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a stack's lock."""

    user: str
    host: str
    pid: int
    command: str
    since: str

    def describe(self) -> str:
        by = f" by {self.user}" if self.user else ""
        what = f" ({self.command})" if self.command else ""
        return f"pid {self.pid} on {self.host}{by}{what}, since {self.since}"

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "command": self.command,
            "since": self.since,
        }


def now_text() -> str:
    """The current UTC time as `2026-01-02T03:04:05Z`."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def me(command: str) -> Holder:
    """This process as a holder."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Holder(user, socket.gethostname(), os.getpid(), command, now_text())


class HeldLock(Protocol):
    """A lock this run holds."""

    @property
    def holder(self) -> Holder: ...

    def check_held(self, fresh: bool = False) -> None:
        """Raises LockLostError when the lock is no longer this run's; an engine may answer from
        a recent look unless `fresh`."""

    def release(self) -> None:
        """Lets the lock go (never someone else's); safe to call once the lock is lost."""


class LockBackend(Protocol):
    """Where stack locks live."""

    name: str

    def try_acquire(self, key: StackKey, command: str) -> HeldLock | Holder:
        """The lock, taken now, or who holds it; never waits."""

    def place(self, key: StackKey) -> str:
        """Where the stack's lock lives, for messages (never a password)."""

    def holder(self, key: StackKey) -> Holder | None:
        """Who holds the stack's lock now, if anyone."""

    def force_release(self, key: StackKey) -> Holder | None:
        """Frees the stack's lock whoever holds it; who held it, or None when it was free."""

    def close(self) -> None:
        """Closes what the backend opened (a held lock's connection goes with it)."""
