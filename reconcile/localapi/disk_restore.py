"""Writes an image's entries into a new folder (a devbox disk); never modifies images or blobs.

The target must not exist: restoring into a fresh folder is both crash safe (the caller renames
it into place when complete) and fast (design note: file creation slows down for minutes where
many files were just deleted). Bytes are copied from blobs with copy_file_range; holes stay holes.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path

from reconcile.localapi.disk_blobs import BlobReader, BlobStore
from reconcile.localapi.disk_cache import HashCache
from reconcile.localapi.disk_layout import DiskError, owns_files
from reconcile.localapi.disk_manifest import DIR, LINK, Entry

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP)


def restore_entries(entries: Sequence[Entry], blobs: BlobStore, target: Path) -> HashCache:
    """Create `target` holding exactly `entries`; returns a HashCache of the files written."""
    target.mkdir(mode=0o755)
    cache = HashCache()
    chown = owns_files()
    made_dirs = {""}
    dirs: list[Entry] = []
    base = str(target)
    with BlobReader(blobs) as reader:
        for entry in entries:
            _check_parent(entry.path, made_dirs)
            path = os.path.join(base, entry.path)
            if entry.kind == DIR:
                os.mkdir(path, 0o700)
                made_dirs.add(entry.path)
                dirs.append(entry)
            elif entry.kind == LINK:
                os.symlink(entry.target, path)
                if chown:
                    os.lchown(path, entry.uid, entry.gid)
                os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
            else:
                cache.record(entry.path, _write_file(path, entry, reader, chown), entry)
    for entry in reversed(dirs):
        _finish_dir(os.path.join(base, entry.path), entry, chown)
    cache.seal()
    return cache


def _check_parent(path: str, made_dirs: set[str]) -> None:
    """Entries only ever go into folders this restore made (never through a restored symlink)."""
    parent, _, name = path.rpartition("/")
    if parent not in made_dirs or name in ("", ".", "..") or path.startswith("/"):
        raise DiskError(f"image entry {path!r} is not inside a folder of the image")


def _finish_dir(path: str, entry: Entry, chown: bool) -> None:
    if chown:
        os.lchown(path, entry.uid, entry.gid)
    os.chmod(path, entry.mode)
    os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)


def _write_file(path: str, entry: Entry, reader: BlobReader, chown: bool) -> os.stat_result:
    fd = os.open(path, _NEW_FILE, 0o600)
    try:
        pos = 0
        for name, offset, length in entry.segments:
            if name:
                _copy(reader.fd(name), fd, offset, length, pos)
            pos += length
        if entry.segments and not entry.segments[-1][0]:
            os.ftruncate(fd, pos)  # a trailing hole leaves no bytes to extend the file
        if chown:
            os.fchown(fd, entry.uid, entry.gid)
        os.fchmod(fd, entry.mode)  # after chown, which clears set-id bits
        os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        return os.fstat(fd)
    finally:
        os.close(fd)


def _copy(src: int, dst: int, offset: int, length: int, pos: int) -> None:
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
