"""Write-once blob files (content chunks and small-file packs) under `root/blobs`; no manifests.

A chunk blob is named by the sha256 of its content; a pack blob (many small files back to back)
gets a random name, because its members are found through the manifests, not by its name. A blob
appears under its final name only complete and durable (written to a temporary name, fsynced,
renamed), so after a crash any blob present can be trusted; `sync_folders` makes the new names
durable before a manifest may point at them. Nothing here decides what is garbage: `sweep`
deletes what the caller says nobody references.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

PACK_PREFIX = "pk"


class BlobStore:
    """Content blobs in a two-level fan-out (`blobs/ab/cdef…`), each written exactly once."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.root = root
        self._tmp = tmp
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._known_dirs: set[str] = set()

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name[2:]

    def has(self, name: str) -> bool:
        return os.path.exists(self.path(name))

    def put(self, name: str, data: bytes | bytearray | memoryview) -> bool:
        """Store `data` as blob `name` unless present; True when it was written now."""
        final = self.path(name)
        if final.exists():
            return False
        self._ensure_dir(name[:2])
        tmp = self._tmp / f"blob-{uuid.uuid4().hex}"
        write_synced(tmp, data, 0o644)
        os.rename(tmp, final)
        return True

    def new_pack_name(self) -> str:
        return f"{PACK_PREFIX}{uuid.uuid4().hex}"

    def sync_folders(self, names: Iterable[str]) -> None:
        """fsync the folders naming the given (new) blobs: their names survive a crash."""
        folders = sorted({name[:2] for name in names})
        for folder in folders:
            fsync_dir(self.root / folder)
        if folders:
            fsync_dir(self.root)

    def names(self) -> Iterator[str]:
        for folder in os.scandir(self.root):
            if folder.is_dir(follow_symlinks=False):
                for blob in os.scandir(folder.path):
                    yield folder.name + blob.name

    def sweep(self, referenced: set[str]) -> tuple[set[str], int]:
        """Delete every blob not in `referenced`; returns (names removed, bytes freed)."""
        removed: set[str] = set()
        freed = 0
        for name in list(self.names()):
            if name in referenced:
                continue
            path = self.path(name)
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
            removed.add(name)
            freed += size
        return removed, freed

    def total_bytes(self) -> int:
        return sum(self.path(name).stat().st_size for name in self.names())

    def _ensure_dir(self, folder: str) -> None:
        if folder in self._known_dirs:
            return
        with self._lock:
            (self.root / folder).mkdir(exist_ok=True)
            self._known_dirs.add(folder)


class BlobReader:
    """Keeps blob files open while a restore reads many segments from few packs."""

    def __init__(self, blobs: BlobStore, limit: int = 64) -> None:
        self._blobs = blobs
        self._limit = limit
        self._fds: dict[str, int] = {}

    def fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            if len(self._fds) >= self._limit:
                os.close(self._fds.pop(next(iter(self._fds))))
            fd = os.open(self._blobs.path(name), os.O_RDONLY | os.O_CLOEXEC)
            self._fds[name] = fd
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_synced(tmp: Path, data: bytes | bytearray | memoryview, mode: int) -> None:
    """Write `data` to the new file `tmp` (never one that exists) and fsync it, so that renaming
    it into place afterwards never publishes a partial file."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
