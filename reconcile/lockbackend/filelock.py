"""The local lock backend: the lock file beside the manifest (`.rlstate/<stack>.lock`).

An adapter of `reconcile.apply.lock` to the LockBackend interface; it serves one machine.
The key's API is not part of the file name (one manifest folder, one lock per stack, as
before backends existed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconcile.apply import lock as files
from reconcile.errors import LockError, LockLostError
from reconcile.lockbackend import Holder, StackKey


def _holder(found: files.LockHolder | None) -> Holder:
    if found is None:
        return Holder("", "unknown host", 0, "", "an unknown time (the lock file is unreadable)")
    return Holder("", found.host, found.pid, found.command, found.started)


@dataclass
class FileLock:
    """A lock file this run wrote."""

    folder: Path
    stack: str
    mine: files.LockHolder

    @property
    def holder(self) -> Holder:
        return _holder(self.mine)

    def check_held(self, fresh: bool = False) -> None:
        found = files.read_holder(files.lock_path(self.folder, self.stack))
        if found != self.mine:
            raise LockLostError(
                f"the lock of stack {self.stack!r} was released by someone else "
                f"(lock file {files.lock_path(self.folder, self.stack)}); "
                "stopped before the next change"
            )

    def release(self) -> None:
        files.release(self.folder, self.stack, self.mine)


class FileBackend:
    """Lock files in one folder."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def place(self, key: StackKey) -> str:
        return f"lock file {files.lock_path(self.folder, key.stack)}"

    def try_acquire(self, key: StackKey, command: str) -> FileLock | Holder:
        try:
            mine = files.acquire(self.folder, key.stack, command)
        except LockError:
            return _holder(files.read_holder(files.lock_path(self.folder, key.stack)))
        return FileLock(self.folder, key.stack, mine)

    def holder(self, key: StackKey) -> Holder | None:
        path = files.lock_path(self.folder, key.stack)
        if not path.exists():
            return None
        found = files.read_holder(path)
        return None if files.is_stale(found) else _holder(found)

    def force_release(self, key: StackKey) -> Holder | None:
        path = files.lock_path(self.folder, key.stack)
        if not path.exists():
            return None
        found = files.read_holder(path)
        path.unlink(missing_ok=True)
        return None if files.is_stale(found) else _holder(found)

    def close(self) -> None:
        """Nothing to close: each lock file is written and closed at once."""
