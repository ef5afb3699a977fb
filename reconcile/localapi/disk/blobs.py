"""Write-once blob files (content chunks and small-file packs) under `root/blobs`; no manifests.

A chunk blob is named by the sha256 of its content; a pack blob (many small files back to back)
gets a random name, because its members are found through the manifests, not by its name. A blob
is stored raw (`blobs/ab/cdef…`) or zstd-compressed (`blobs/ab/cdef….z`, see codec.py); its
name, and so every manifest, is the same either way, and readers accept both.

The new blobs of one snapshot (a BlobBatch) are written under `tmp/` with the batch's prefix,
without a sync each; commit() then syncs the store's file system once, renames them into place
and syncs once more (also when it staged nothing but reuses a blob another snapshot published
and has not synced yet). So a blob appears under its final name only with its bytes durable,
every blob a snapshot names is durable when its commit returns, and after a crash any blob
present can be trusted; staged files left by a crash are deleted on the next start.
Nothing here decides what is garbage: `sweep` deletes what the caller says nobody references.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from reconcile.localapi.disk.codec import Unpacked, compress, decompress

PACK_PREFIX = "pk"
ZSUFFIX = ".z"
MAX_BLOB = 1 << 30  # no blob we write decompresses to more (chunks 4 MiB, packs 16 MiB)
PIECE = 256 << 10  # bytes per write(): on Linux 6.x one 4 MiB write() can cost 10x more CPU
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


class BlobStore:
    """Content blobs in a two-level fan-out (`blobs/ab/cdef…`), each written exactly once."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.root = root
        self._tmp = tmp
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._known_dirs: set[str] = set()
        self._published = 0  # renames into blobs/ so far, and how many of them a sync covers
        self._synced = 0

    def path(self, name: str) -> Path:
        """Where blob `name` is stored raw (see locate for where it actually is)."""
        return self.root / name[:2] / name[2:]

    def locate(self, name: str) -> tuple[Path, bool]:
        """The file holding blob `name` and whether it is compressed; FileNotFoundError if none."""
        raw = self.path(name)
        if os.path.exists(raw):
            return raw, False
        packed = raw.with_name(raw.name + ZSUFFIX)
        if os.path.exists(packed):
            return packed, True
        raise FileNotFoundError(errno.ENOENT, "no such blob", str(raw))

    def has(self, name: str) -> bool:
        try:
            self.locate(name)
        except FileNotFoundError:
            return False
        return True

    def read(self, name: str) -> bytes:
        """The content of blob `name` (decompressed if stored compressed)."""
        path, packed = self.locate(name)
        data = path.read_bytes()
        return decompress(data, MAX_BLOB) if packed else data

    def new_pack_name(self) -> str:
        return f"{PACK_PREFIX}{uuid.uuid4().hex}"

    def new_batch(self) -> BlobBatch:
        """A staging area for one snapshot's new blobs (see BlobBatch)."""
        return BlobBatch(self, self._tmp, f"batch-{uuid.uuid4().hex}-")

    def names(self) -> Iterator[str]:
        for name, _ in self._files():
            yield name

    def sweep(self, referenced: set[str]) -> tuple[set[str], int]:
        """Delete every blob not in `referenced`; returns (names removed, bytes freed)."""
        removed: set[str] = set()
        freed = 0
        for name, path in list(self._files()):
            if name in referenced:
                continue
            try:
                size = os.stat(path).st_size
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed.add(name)
            freed += size
        return removed, freed

    def total_bytes(self) -> int:
        return sum(os.stat(path).st_size for _, path in self._files())

    def publish(self, name: str, staged: Path, packed: bool) -> None:
        """Move a complete, already durable staged file into place as blob `name`."""
        folder = self.root / name[:2]
        with self._lock:
            self._published += 1  # counted before the rename: whoever sees the blob sees this
            if name[:2] not in self._known_dirs:
                folder.mkdir(exist_ok=True)
                self._known_dirs.add(name[:2])
        os.rename(staged, folder / (name[2:] + (ZSUFFIX if packed else "")))

    def durable(self) -> bool:
        """Whether a sync has covered every blob published so far. One may not be: published
        by a snapshot still committing, or by one whose commit failed half-way."""
        with self._lock:
            return self._synced == self._published

    def sync(self) -> None:
        """Make every blob published so far durable (one sync of the file system)."""
        with self._lock:
            upto = self._published
        sync_filesystem(self.root)
        with self._lock:
            self._synced = max(self._synced, upto)

    def _files(self) -> Iterator[tuple[str, str]]:
        """(blob name, file path) of every stored blob file."""
        for folder in os.scandir(self.root):
            if folder.is_dir(follow_symlinks=False):
                for blob in os.scandir(folder.path):
                    yield folder.name + blob.name.removesuffix(ZSUFFIX), blob.path


class BlobBatch:
    """The new blobs of one snapshot: staged unsynced, then published together by commit().

    put() may run on many threads at once; each name is written at most once per batch."""

    def __init__(self, store: BlobStore, tmp: Path, prefix: str) -> None:
        self._store = store
        self._tmp = tmp
        self._prefix = prefix  # staged files are tmp/<prefix><name>[.z]; no folder of their own
        self._staged: dict[str, str] = {}  # name → staged file name; "" while being written
        self._lock = threading.Lock()

    def has(self, name: str) -> bool:
        """Whether the blob is stored, or staged by this batch (stored once it commits)."""
        with self._lock:
            if name in self._staged:
                return True
        return self._store.has(name)

    def put(self, name: str, data: bytes | bytearray | memoryview) -> int:
        """Stage blob `name` (compressed where that pays) unless it is present; returns the
        bytes written now (0 when it was already stored or staged)."""
        with self._lock:
            if name in self._staged:
                return 0
            self._staged[name] = ""
        try:
            if self._store.has(name):
                return 0
            packed = compress(data)
            body = data if packed is None else packed
            file = name + (ZSUFFIX if packed is not None else "")
            _write_new(self._staged_path(file), body)
        except BaseException:
            with self._lock:
                del self._staged[name]
            raise
        with self._lock:
            self._staged[name] = file
        return len(body)

    def new_pack_name(self) -> str:
        return self._store.new_pack_name()

    def names(self) -> set[str]:
        """Blobs this batch wrote (not those it found already stored)."""
        with self._lock:
            return {name for name, file in self._staged.items() if file}

    def commit(self) -> None:
        """Make every staged blob durable under its final name (one sync before, one after).

        Blobs this batch found already stored are durable too when it returns: one another
        snapshot published but has not synced yet is covered by a sync here."""
        with self._lock:
            staged = {name: file for name, file in self._staged.items() if file}
        if staged:
            sync_filesystem(self._tmp)
            for name, file in staged.items():
                self._store.publish(name, self._staged_path(file), file.endswith(ZSUFFIX))
        if staged or not self._store.durable():
            self._store.sync()

    def discard(self) -> None:
        """Drop what was staged (after a failed snapshot)."""
        with self._lock:
            files = [file for file in self._staged.values() if file]
        for file in files:
            self._staged_path(file).unlink(missing_ok=True)

    def _staged_path(self, file: str) -> Path:
        return self._tmp / (self._prefix + file)


class BlobReader:
    """Keeps blob files open while a restore reads many segments from few packs; compressed
    blobs come decompressed from the restore's shared Unpacked."""

    def __init__(self, blobs: BlobStore, unpacked: Unpacked, limit: int = 64) -> None:
        self._blobs = blobs
        self._unpacked = unpacked
        self._limit = limit
        self._fds: dict[str, int] = {}

    def source(self, name: str) -> int | bytes:
        """An open file of raw blob `name`, or the content of a compressed one (one segment)."""
        fd = self._fds.get(name)
        if fd is not None:
            return fd
        path, packed = self._blobs.locate(name)
        if packed:
            return self._unpacked.take(name, lambda: self._blobs.read(name))
        if len(self._fds) >= self._limit:
            os.close(self._fds.pop(next(iter(self._fds))))
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
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


def segment_uses(segments: Iterator[tuple[str, int, int]]) -> Counter[str]:
    """How many segments name each blob (for Unpacked)."""
    return Counter(seg[0] for seg in segments if seg[0])


def _write_new(path: Path, data: bytes | bytearray | memoryview) -> None:
    fd = os.open(path, _NEW, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view[:PIECE]) :]
        if _START_WRITEBACK is not None:
            _START_WRITEBACK(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # a hint: errors surface at sync
    finally:
        os.close(fd)


def _libc_function(name: str) -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function: Callable[..., int] = getattr(libc, name)
        return function
    except (OSError, AttributeError):
        return None


_SYNCFS = _libc_function("syncfs")
# sync_file_range(fd, 0, 0, WRITE) starts writing a blob back without waiting for it, so the
# device works while later chunks are hashed and the final sync has little left to do.
_START_WRITEBACK = _libc_function("sync_file_range")
if _START_WRITEBACK is not None:
    _START_WRITEBACK.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)  # type: ignore[attr-defined]
_SYNC_FILE_RANGE_WRITE = 2


def sync_filesystem(path: Path) -> None:
    """Flush everything written to the file system holding `path` (syncfs; sync where absent)."""
    if _SYNCFS is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _SYNCFS(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def write_synced(tmp: Path, data: bytes | bytearray | memoryview, mode: int) -> None:
    """Write `data` to the new file `tmp` (never one that exists) and fsync it, so that renaming
    it into place afterwards never publishes a partial file (manifests; blobs go in a batch)."""
    fd = os.open(tmp, _NEW, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view[:PIECE]) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
