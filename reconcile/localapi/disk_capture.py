"""Reads a devbox disk into manifest entries and new blobs (one snapshot); never publishes an image.

Walks with directory descriptors and O_NOFOLLOW, so a devbox running during the snapshot cannot
make the server (root) read host files by swapping a folder for a symlink. Regular files of at
least SMALL_LIMIT bytes are cut into CHUNK-sized blobs named by their sha256 (all-zero chunks are
stored as holes); smaller files are appended to a pack blob and remembered by their sha256.
FIFOs, sockets and device files are skipped; hard links are stored as separate files.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from reconcile.localapi.disk_blobs import BlobStore
from reconcile.localapi.disk_cache import HashCache, SmallIndex
from reconcile.localapi.disk_manifest import DIR, FILE, LINK, Entry, Segment

CHUNK = 4 << 20
SMALL_LIMIT = 64 << 10
PACK_LIMIT = 64 << 20
_ZERO = bytes(CHUNK)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


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

    blobs: BlobStore
    pool: Executor
    index: SmallIndex
    old_cache: HashCache = field(default_factory=HashCache)
    entries: list[Entry] = field(default_factory=list)
    cache: HashCache = field(default_factory=HashCache)
    stats: CaptureStats = field(default_factory=CaptureStats)
    _new_blobs: set[str] = field(default_factory=set)
    _present: set[str] = field(default_factory=set)
    _pack: bytearray = field(default_factory=bytearray)
    _pack_name: str = ""
    _pack_members: dict[str, Segment] = field(default_factory=dict)

    def run(self, disk: Path) -> list[Entry]:
        """Walk `disk`, store new blobs durably, and return the entries of the image."""
        started = time.perf_counter()
        self._pack_name = self.blobs.new_pack_name()
        self._walk(disk)
        self._flush_pack()
        self.blobs.sync(self._new_blobs)
        self.cache.seal()
        self.stats.entries = len(self.entries)
        self.stats.new_blobs = len(self._new_blobs)
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
        """Record the entries of one folder; returns its subfolders as (name, relative path)."""
        with os.scandir(fd) as it:
            items = sorted(it, key=lambda item: item.name)
        subdirs = []
        for item in items:
            rel = prefix + item.name
            try:
                st = item.stat(follow_symlinks=False)
                entry = self._entry(fd, item.name, rel, st)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if entry is None:
                self.stats.skipped += 1
                continue
            self.entries.append(entry)
            if entry.kind == DIR:
                subdirs.append((item.name, rel))
        return subdirs

    def _entry(self, fd: int, name: str, rel: str, st: os.stat_result) -> Entry | None:
        meta = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns)
        if stat.S_ISDIR(st.st_mode):
            return Entry(rel, DIR, *meta)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(name, dir_fd=fd)
            return Entry(rel, LINK, *meta, size=len(target), target=target)
        if stat.S_ISREG(st.st_mode):
            return self._file(fd, name, rel, st)
        return None

    def _file(self, fd: int, name: str, rel: str, st: os.stat_result) -> Entry | None:
        meta = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns)
        hit = self.old_cache.lookup(rel, st)
        if hit is not None and self._all_present(hit.segments):
            entry = Entry(rel, FILE, *meta, st.st_size, hit.segments, hit.digest)
            self.stats.reused_files += 1
        else:
            try:
                ffd = os.open(name, _FILE_FLAGS, dir_fd=fd)
            except OSError:
                return None
            try:
                st = os.fstat(ffd)
                if not stat.S_ISREG(st.st_mode):
                    return None
                segments, digest = self._read(ffd, st.st_size)
            finally:
                os.close(ffd)
            size = sum(s[2] for s in segments)
            entry = Entry(rel, FILE, *meta, size, segments, digest)
            self.stats.hashed_bytes += size
        self.cache.record(rel, st, entry)
        self.stats.files += 1
        self.stats.logical_bytes += entry.size
        return entry

    def _read(self, fd: int, size: int) -> tuple[tuple[Segment, ...], str]:
        if size == 0:
            return (), ""
        if size < SMALL_LIMIT:
            data = os.pread(fd, size, 0)
            digest = hashlib.sha256(data).hexdigest()
            return ((self._small(data, digest),) if data else ()), digest
        results = list(self.pool.map(lambda off: self._chunk(fd, off), range(0, size, CHUNK)))
        for _, stored, name in results:
            if stored and name not in self._new_blobs:
                self.stats.stored_bytes += stored
                self._new_blobs.add(name)
        return tuple(seg for seg, _, _ in results if seg[2]), ""

    def _chunk(self, fd: int, offset: int) -> tuple[Segment, int, str]:
        """Runs in the pool: hash one chunk and store it unless present or all zeros."""
        data = os.pread(fd, CHUNK, offset)
        n = len(data)
        if data == (_ZERO if n == CHUNK else _ZERO[:n]):
            return ("", 0, n), 0, ""
        name = hashlib.sha256(data).hexdigest()
        return (name, 0, n), (n if self.blobs.put(name, data) else 0), name

    def _small(self, data: bytes, digest: str) -> Segment:
        known = self._pack_members.get(digest) or self.index.get(digest)
        if known is not None and self._all_present((known,)):
            return known
        if len(self._pack) + len(data) > PACK_LIMIT:
            self._flush_pack()
        seg = (self._pack_name, len(self._pack), len(data))
        self._pack += data
        self._pack_members[digest] = seg
        return seg

    def _flush_pack(self) -> None:
        if not self._pack:
            return
        self.blobs.put(self._pack_name, self._pack)
        self._present.add(self._pack_name)
        self._new_blobs.add(self._pack_name)
        self.stats.stored_bytes += len(self._pack)
        self._pack = bytearray()
        self._pack_name = self.blobs.new_pack_name()

    def _all_present(self, segments: tuple[Segment, ...]) -> bool:
        for name, _, _ in segments:
            if not name or name in self._present or name == self._pack_name:
                continue
            if not self.blobs.has(name):
                return False
            self._present.add(name)
        return True
