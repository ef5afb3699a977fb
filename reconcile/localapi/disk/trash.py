"""Deletes old disk trees lazily in a background thread; knows nothing about what they held.

Removing tens of thousands of files makes file creation on this disk slow for a while, so a
deleted disk is renamed into the trash at once (instant, atomic) and removed later, while the
store is idle. Trees left by a crash are picked up on start.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

IDLE_POLL_SECONDS = 0.2


class Trash:
    """A folder of doomed trees and the one thread that empties it."""

    def __init__(self, folder: Path, is_busy: Callable[[], bool]) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._is_busy = is_busy
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if any(os.scandir(self.folder)):
            self._start()

    def discard(self, path: Path) -> None:
        """Move `path` (same file system) into the trash; it is deleted later."""
        os.rename(path, self.folder / uuid.uuid4().hex)
        self._start()

    def empty_now(self) -> None:
        """Delete everything in the trash in the calling thread (tests, benchmarks, shutdown)."""
        with self._lock, os.scandir(self.folder) as it:
            for item in it:
                _remove(Path(item.path))

    def _start(self) -> None:
        self._wake.set()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="disk-trash", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with os.scandir(self.folder) as it:
                names = [item.name for item in it]
            for name in names:
                while self._is_busy():
                    time.sleep(IDLE_POLL_SECONDS)
                with self._lock:
                    _remove(self.folder / name)


def _remove(path: Path) -> None:
    """Delete a tree, making read-only folders writable first when not running as root."""

    def retry(func: Callable[..., object], failed: str, _exc: object) -> None:
        parent = os.path.dirname(failed)
        if os.path.isdir(parent) and not os.path.islink(parent):
            os.chmod(parent, 0o700)
        func(failed)

    if path.is_dir() and not path.is_symlink():
        try:
            shutil.rmtree(path, onerror=retry)
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
