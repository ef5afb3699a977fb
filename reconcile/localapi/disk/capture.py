"""Reads a devbox disk into manifest entries and new blobs (one snapshot); never publishes an image.

Walks with directory descriptors and O_NOFOLLOW, so a devbox running during the snapshot cannot
make the server (root) read host files by swapping a folder for a symlink. Regular files of at
least SMALL_LIMIT bytes are cut into CHUNK-sized blobs named by their sha256 (all-zero chunks are
stored as holes); smaller files are appended to a pack blob and remembered by their sha256.
Reading, hashing, compressing and writing run on a thread pool (hashlib, zstd and file I/O
release the GIL). New blobs go to a BlobBatch, unsynced: the caller commits it (one sync) before
publishing the image. FIFOs, sockets
and device files are skipped; hard links are stored as separate files.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path

from reconcile.localapi.disk.blobs import BlobBatch
from reconcile.localapi.disk.cache import HashCache, SmallIndex
from reconcile.localapi.disk.manifest import DIR, FILE, LINK, Entry, Segment

CHUNK = 4 << 20
SMALL_LIMIT = 64 << 10
PACK_LIMIT = 64 << 20
BATCH = 256  # small files read per pool round (bounds memory held by results)
READ_GROUP = 32  # small files one pool task reads (fewer futures, fewer GIL hand-offs)
_ZERO = bytes(CHUNK)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# A small file as read by a pool worker: its fstat, content and sha256; None if it changed kind.
_Read = tuple[os.stat_result, bytes, str] | None


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
    _pack: list[bytes] = field(default_factory=list)  # the pack being filled, file by file
    _pack_size: int = 0
    _pack_name: str = ""
    _pack_members: dict[str, Segment] = field(default_factory=dict)
    _pack_writes: list[Future[int]] = field(default_factory=list)

    def run(self, disk: Path) -> list[Entry]:
        """Walk `disk`, stage new blobs in the batch, and return the entries of the image."""
        started = time.perf_counter()
        walk_started_ns = time.time_ns()  # before any stat: what the cache may trust
        self._pack_name = self.blobs.new_pack_name()
        self._walk(disk)
        self._flush_pack()
        for write in self._pack_writes:
            self.stats.stored_bytes += write.result()
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
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            for item, entry in zip(batch, self._batch_entries(fd, prefix, batch), strict=True):
                if entry is None:
                    self.stats.skipped += 1
                    continue
                self.entries.append(entry)
                if entry.kind == DIR:
                    subdirs.append((item.name, entry.path))
        return subdirs

    def _batch_entries(
        self, fd: int, prefix: str, batch: list[os.DirEntry[str]]
    ) -> list[Entry | None]:
        """Entries for one batch of a folder; files unknown to the cache are read in the pool."""
        entries: list[Entry | None] = []
        to_read: list[int] = []
        for item in batch:
            rel = prefix + item.name
            if item.is_file(follow_symlinks=False) and rel not in self.old_cache.files:
                to_read.append(len(entries))  # no need to lstat: fstat after open is enough
                entries.append(None)
                continue
            try:
                entries.append(self._entry(fd, item, rel))
            except (FileNotFoundError, NotADirectoryError):
                entries.append(None)
        names = [batch[i].name for i in to_read]
        groups = [names[k : k + READ_GROUP] for k in range(0, len(names), READ_GROUP)]
        reads = (
            r for group in self.pool.map(lambda g: self._read_group(fd, g), groups) for r in group
        )
        for i, read in zip(to_read, reads, strict=True):
            entries[i] = self._entry_from_read(fd, batch[i].name, prefix + batch[i].name, read)
        return entries

    def _read_group(self, fd: int, names: list[str]) -> list[_Read]:
        return [self._read_small(fd, name) for name in names]

    def _entry(self, fd: int, item: os.DirEntry[str], rel: str) -> Entry | None:
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

    def _read_small(self, fd: int, name: str) -> _Read:
        """Pool worker: open without following, and read+hash the file if it is small."""
        try:
            ffd = os.open(name, _FILE_FLAGS, dir_fd=fd)
        except OSError:
            return None
        try:
            st = os.fstat(ffd)
            if not stat.S_ISREG(st.st_mode):
                return None
            if st.st_size >= SMALL_LIMIT:
                return st, b"", ""
            data = os.pread(ffd, st.st_size, 0)
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
            ffd = os.open(name, _FILE_FLAGS, dir_fd=fd)
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

    def _small(self, data: bytes, digest: str) -> Segment:
        known = self._pack_members.get(digest) or self.index.get(digest)
        if known is not None and self._all_present((known,)):
            return known
        if self._pack_size + len(data) > PACK_LIMIT:
            self._flush_pack()
        seg = (self._pack_name, self._pack_size, len(data))
        self._pack.append(data)  # never joined: growing one buffer copied it over and over
        self._pack_size += len(data)
        self._pack_members[digest] = seg
        return seg

    def _flush_pack(self) -> None:
        """Write the current pack in the background (the next one fills meanwhile)."""
        if not self._pack:
            return
        pack = self._pack  # written piece by piece: joining 64 MiB costs more than the write
        self._pack_writes.append(self.pool.submit(self.blobs.put, self._pack_name, pack))
        self._present.add(self._pack_name)
        self._pack = []
        self._pack_size = 0
        self._pack_name = self.blobs.new_pack_name()

    def _all_present(self, segments: tuple[Segment, ...]) -> bool:
        for name, _, _ in segments:
            if not name or name in self._present or name == self._pack_name:
                continue
            if not self.blobs.has(name):
                return False
            self._present.add(name)
        return True
