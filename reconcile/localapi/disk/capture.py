"""Reads a devbox disk into manifest entries and new blobs (one snapshot); never publishes an image.

Walks with directory descriptors and O_NOFOLLOW, so a devbox running during the snapshot cannot
make the server (root) read host files by swapping a folder for a symlink. Regular files of at
least SMALL_LIMIT bytes are cut into CHUNK-sized blobs named by their sha256 (all-zero chunks are
stored as holes); smaller files are appended to a pack blob and remembered by their sha256.
Small files are read and hashed on the walk's thread, one after the other: for a few KiB each,
handing them to threads costs more (GIL hand-offs) than it saves. Chunks of large files are read,
hashed and compressed, and packs compressed and written, on a thread pool (hashlib, zstd and file
I/O release the GIL for big buffers). New blobs go to a BlobBatch, unsynced: the caller commits
it (one sync) before publishing the image. FIFOs, sockets and device files are skipped; hard
links are stored as separate files.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from reconcile.localapi.disk.blobs import BlobBatch
from reconcile.localapi.disk.cache import HashCache, SmallIndex
from reconcile.localapi.disk.manifest import DIR, FILE, LINK, Entry, Segment
from reconcile.localapi.disk.packs import PackFiller

CHUNK = 4 << 20
SMALL_LIMIT = 64 << 10
_ZERO = bytes(CHUNK)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NOATIME = getattr(os, "O_NOATIME", 0)
# A small file as read: its fstat, content and sha256; None if it changed kind.
_Read = tuple[os.stat_result, bytes | memoryview, str] | None


@dataclass
class CaptureStats:
    """What one snapshot did; stored_bytes counts only blob bytes written by this snapshot."""

    entries: int = 0
    files: int = 0
    logical_bytes: int = 0
    hashed_bytes: int = 0
    stored_bytes: int = 0
    new_blobs: int = 0
    reused_files: int = 0
    skipped: int = 0
    seconds: float = 0.0


@dataclass
class Capture:
    """One snapshot in progress: call run(disk) once."""

    blobs: BlobBatch
    pool: Executor
    index: SmallIndex
    old_cache: HashCache = field(default_factory=HashCache)
    entries: list[Entry] = field(default_factory=list)
    cache: HashCache = field(default_factory=HashCache)
    stats: CaptureStats = field(default_factory=CaptureStats)
    _present: set[str] = field(default_factory=set)
    _pack: PackFiller | None = None
    _pack_members: dict[str, Segment] = field(default_factory=dict)
    _noatime: bool = _NOATIME != 0

    def run(self, disk: Path) -> list[Entry]:
        """Walk `disk`, stage new blobs in the batch, and return the entries of the image."""
        started = time.perf_counter()
        walk_started_ns = time.time_ns()  # before any stat: what the cache may trust
        self._pack = PackFiller(self.blobs, self.pool)
        try:
            self._walk(disk)
        finally:
            self._pack.close()
        self.stats.stored_bytes += self._pack.stored_bytes
        self.cache.seal(walk_started_ns)
        self.stats.entries = len(self.entries)
        self.stats.new_blobs = len(self.blobs.names())
        self.stats.seconds = time.perf_counter() - started
        return self.entries

    def _walk(self, disk: Path) -> None:
        root = os.open(disk, _DIR_FLAGS)
        stack = [(root, iter(self._list_dir(root, "")))]
        try:
            while stack:
                fd, subdirs = stack[-1]
                nxt = next(subdirs, None)
                if nxt is None:
                    os.close(fd)
                    stack.pop()
                    continue
                try:
                    child = os.open(nxt[0], _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # gone or swapped for a symlink since it was listed
                stack.append((child, iter(self._list_dir(child, nxt[1] + "/"))))
        finally:
            for fd, _ in stack:
                os.close(fd)

    def _list_dir(self, fd: int, prefix: str) -> list[tuple[str, str]]:
        """Record the entries of one folder (sorted); returns its subfolders (name, rel path)."""
        with os.scandir(fd) as it:
            items = sorted(it, key=lambda item: item.name)
        subdirs = []
        for item in items:
            try:
                entry = self._entry(fd, item, prefix + item.name)
            except (FileNotFoundError, NotADirectoryError):
                entry = None
            if entry is None:
                self.stats.skipped += 1
                continue
            self.entries.append(entry)
            if entry.kind == DIR:
                subdirs.append((item.name, entry.path))
        return subdirs

    def _entry(self, fd: int, item: os.DirEntry[str], rel: str) -> Entry | None:
        if item.is_file(follow_symlinks=False) and rel not in self.old_cache.files:
            # no need to lstat: the fstat after open is enough
            return self._entry_from_read(fd, item.name, rel, self._read_small(fd, item.name))
        st = item.stat(follow_symlinks=False)
        meta = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns)
        if stat.S_ISDIR(st.st_mode):
            return Entry(rel, DIR, *meta)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(item.name, dir_fd=fd)
            return Entry(rel, LINK, *meta, size=len(target), target=target)
        if not stat.S_ISREG(st.st_mode):
            return None
        hit = self.old_cache.lookup(rel, st)
        if hit is not None and self._all_present(hit.segments):
            self.stats.reused_files += 1
            return self._file_entry(rel, st, hit.segments, hit.digest)
        return self._entry_from_read(fd, item.name, rel, self._read_small(fd, item.name))

    def _open(self, fd: int, name: str) -> int:
        """Open a file of the folder `fd` for reading, without following a symlink and, where
        allowed (root, or the file's owner), without updating its access time: on relatime
        mounts the first read of a new file would dirty its inode for the next sync to write."""
        if self._noatime:
            try:
                return os.open(name, _FILE_FLAGS | _NOATIME, dir_fd=fd)
            except PermissionError as exc:
                if exc.errno != errno.EPERM:
                    raise  # EACCES: not readable at all
                self._noatime = False  # neither root nor the owner: not for this snapshot
        return os.open(name, _FILE_FLAGS, dir_fd=fd)

    def _read_small(self, fd: int, name: str) -> _Read:
        """Open without following, and read+hash the file if it is small. On the walk's thread:
        handing 20,000 small reads to a pool cost more in GIL hand-offs than it saved."""
        try:
            ffd = self._open(fd, name)
        except OSError:
            return None
        try:
            st = os.fstat(ffd)
            if not stat.S_ISREG(st.st_mode):
                return None
            if st.st_size >= SMALL_LIMIT:
                return st, b"", ""
            assert self._pack is not None
            room = self._pack.room(st.st_size)
            data = room[: os.preadv(ffd, [room], 0)]
            return st, data, hashlib.sha256(data).hexdigest()
        finally:
            os.close(ffd)

    def _entry_from_read(self, fd: int, name: str, rel: str, read: _Read) -> Entry | None:
        if read is None:
            return None
        st, data, digest = read
        if st.st_size >= SMALL_LIMIT:
            segments = self._large(fd, name)
            if segments is None:
                return None
            digest = ""
        else:
            segments = (self._small(data, digest),) if data else ()
        entry = self._file_entry(rel, st, segments, digest if data else "")
        self.stats.hashed_bytes += entry.size
        return entry

    def _file_entry(
        self, rel: str, st: os.stat_result, segments: tuple[Segment, ...], digest: str
    ) -> Entry:
        size = sum(s[2] for s in segments)
        meta = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns)
        entry = Entry(rel, FILE, *meta, size, segments, digest)
        self.cache.record(rel, st, entry)
        self.stats.files += 1
        self.stats.logical_bytes += size
        return entry

    def _large(self, fd: int, name: str) -> tuple[Segment, ...] | None:
        try:
            ffd = self._open(fd, name)
        except OSError:
            return None
        try:
            size = os.fstat(ffd).st_size
            results = list(self.pool.map(lambda off: self._chunk(ffd, off), range(0, size, CHUNK)))
        finally:
            os.close(ffd)
        self.stats.stored_bytes += sum(stored for _, stored in results)
        return tuple(seg for seg, _ in results if seg[2])

    def _chunk(self, fd: int, offset: int) -> tuple[Segment, int]:
        """Pool worker: hash one chunk and stage it unless present or all zeros; returns its
        segment and the bytes written for it."""
        data = os.pread(fd, CHUNK, offset)
        n = len(data)
        if data == (_ZERO if n == CHUNK else _ZERO[:n]):
            return ("", 0, n), 0
        name = hashlib.sha256(data).hexdigest()
        return (name, 0, n), self.blobs.put(name, data)

    def _small(self, data: bytes | memoryview, digest: str) -> Segment:
        """The segment holding a small file just read into the pack's room: a copy stored
        before, or the room, kept."""
        known = self._pack_members.get(digest) or self.index.get(digest)
        if known is not None and self._all_present((known,)):
            return known
        assert self._pack is not None
        seg = self._pack.keep(len(data))
        self._pack_members[digest] = seg
        return seg

    def _all_present(self, segments: tuple[Segment, ...]) -> bool:
        for name, _, _ in segments:
            if not name or name in self._present or (self._pack and self._pack.holds(name)):
                continue
            if not self.blobs.has(name):
                return False
            self._present.add(name)
        return True
