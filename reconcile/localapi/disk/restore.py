"""Writes an image's entries into a new folder (a devbox disk); never modifies images or blobs.

The target must not exist: restoring into a fresh folder is both crash safe (the caller renames
it into place when complete) and fast (file creation slows down for a minute or more where
many files were just deleted; the store's tmp/ spreads new trees away from those, see
layout.spread_subfolders). Bytes are copied from raw blobs with copy_file_range; compressed
blobs are decompressed once each (codec.Unpacked) and written out; holes stay holes.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from reconcile.localapi.disk.blobs import PIECE, BlobReader, BlobStore, segment_uses
from reconcile.localapi.disk.cache import HashCache
from reconcile.localapi.disk.codec import Unpacked
from reconcile.localapi.disk.layout import DiskError, owns_files
from reconcile.localapi.disk.manifest import DIR, LINK, Entry, Segment

BATCH = 256  # files written per pool task
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP)


def restore_entries(
    entries: Sequence[Entry], blobs: BlobStore, target: Path, pool: Executor
) -> HashCache:
    """Create `target` holding exactly `entries`; returns a HashCache of the files written.

    Folders are made first, in order; files and symlinks are then written by the pool in
    batches; folder modes and times are set last (writing into a folder changes its mtime)."""
    target.mkdir(mode=0o755)
    uses = segment_uses(seg for entry in entries for seg in entry.segments)
    writer = _Writer(blobs, Unpacked(uses), str(target), owns_files(), _umask())
    made_dirs = {""}
    dirs: list[Entry] = []
    others: list[Entry] = []
    big: list[Entry] = []
    for entry in entries:
        _check_parent(entry.path, made_dirs)
        if entry.kind == DIR:
            os.mkdir(os.path.join(writer.base, entry.path), 0o700)
            made_dirs.add(entry.path)
            dirs.append(entry)
        else:
            (big if len(entry.segments) > 1 else others).append(entry)
    batches = [others[i : i + BATCH] for i in range(0, len(others), BATCH)]
    cache = HashCache()
    for written in pool.map(writer.write_batch, batches):
        for entry, st in written:
            cache.record(entry.path, st, entry)
    for entry in big:
        cache.record(entry.path, writer.write_big_file(entry, pool), entry)
    for entry in reversed(dirs):
        writer.finish_dir(entry)
    cache.seal()
    return cache


def _check_parent(path: str, made_dirs: set[str]) -> None:
    """Entries only ever go into folders this restore made (never through a restored symlink)."""
    parent, _, name = path.rpartition("/")
    if parent not in made_dirs or name in ("", ".", "..") or path.startswith("/"):
        raise DiskError(f"image entry {path!r} is not inside a folder of the image")


@dataclass(frozen=True)
class _Writer:
    blobs: BlobStore
    unpacked: Unpacked
    base: str
    chown: bool
    umask: int

    def write_batch(self, batch: list[Entry]) -> list[tuple[Entry, os.stat_result]]:
        """Pool worker: write files and symlinks; returns each file's final stat."""
        written = []
        with BlobReader(self.blobs, self.unpacked) as reader:
            for entry in batch:
                path = os.path.join(self.base, entry.path)
                if entry.kind == LINK:
                    self._symlink(path, entry)
                else:
                    written.append((entry, self._file(path, entry, reader)))
        return written

    def write_big_file(self, entry: Entry, pool: Executor) -> os.stat_result:
        """A file of several chunks: its chunks are copied in parallel by the pool."""
        path = os.path.join(self.base, entry.path)
        fd = os.open(path, _NEW_FILE, entry.mode & 0o777)
        try:
            os.ftruncate(fd, entry.size)  # holes stay holes; every chunk lands at its offset
            starts = list(itertools.accumulate((s[2] for s in entry.segments), initial=0))
            jobs = [(seg, pos) for seg, pos in zip(entry.segments, starts, strict=False) if seg[0]]
            list(pool.map(lambda job: self._copy_segment(fd, *job), jobs))
            return self._finish_file(fd, entry)
        finally:
            os.close(fd)

    def _copy_segment(self, fd: int, segment: Segment, pos: int) -> None:
        with BlobReader(self.blobs, self.unpacked, limit=1) as reader:
            _copy(reader.source(segment[0]), fd, segment[1], segment[2], pos)

    def finish_dir(self, entry: Entry) -> None:
        path = os.path.join(self.base, entry.path)
        if self.chown:
            os.lchown(path, entry.uid, entry.gid)
        os.chmod(path, entry.mode)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)

    def _symlink(self, path: str, entry: Entry) -> None:
        os.symlink(entry.target, path)
        if self.chown:
            os.lchown(path, entry.uid, entry.gid)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)

    def _file(self, path: str, entry: Entry, reader: BlobReader) -> os.stat_result:
        fd = os.open(path, _NEW_FILE, entry.mode & 0o777)
        try:
            pos = 0
            for name, offset, length in entry.segments:
                if name:
                    _copy(reader.source(name), fd, offset, length, pos)
                pos += length
            if entry.segments and not entry.segments[-1][0]:
                os.ftruncate(fd, pos)  # a trailing hole leaves no bytes to extend the file
            return self._finish_file(fd, entry)
        finally:
            os.close(fd)

    def _finish_file(self, fd: int, entry: Entry) -> os.stat_result:
        if self.chown:
            os.fchown(fd, entry.uid, entry.gid)
        if entry.mode != entry.mode & 0o777 & ~self.umask:
            os.fchmod(fd, entry.mode)  # after chown, which clears set-id bits
        os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        return os.fstat(fd)


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o777  # unknown: always fchmod


def _copy(src: int | bytes, dst: int, offset: int, length: int, pos: int) -> None:
    if isinstance(src, bytes):
        _write_slice(src, dst, offset, length, pos)
        return
    while length:
        try:
            done = os.copy_file_range(src, dst, length, offset, pos)
        except OSError as exc:
            if exc.errno not in _NO_COPY_RANGE:
                raise
            _copy_plain(src, dst, offset, length, pos)
            return
        if done == 0:
            raise DiskError("an image blob is shorter than its manifest says")
        offset, pos, length = offset + done, pos + done, length - done


def _copy_plain(src: int, dst: int, offset: int, length: int, pos: int) -> None:
    while length:
        data = os.pread(src, min(length, 1 << 20), offset)
        if not data:
            raise DiskError("an image blob is shorter than its manifest says")
        os.pwrite(dst, data, pos)
        offset, pos, length = offset + len(data), pos + len(data), length - len(data)


def _write_slice(data: bytes, dst: int, offset: int, length: int, pos: int) -> None:
    if offset + length > len(data):
        raise DiskError("an image blob is shorter than its manifest says")
    view = memoryview(data)[offset : offset + length]
    while view:
        done = os.pwrite(dst, view[:PIECE], pos)
        view, pos = view[done:], pos + done
