"""Unpacks object-mount archives (tar, tgz, gzip) into a devbox disk; refuses anything escaping it.

Every member is checked before it is written: absolute names, `..`, links leading out, device
files and FIFOs are refused (the whole unpack fails with DiskError), set-id bits and group/other
write bits are dropped (tarfile's "data" filter), and files are written through paths.py, so
they cannot land outside the disk even through symlinks already on it. Hard links become copies.
Everything written is owned by the devbox user.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import stat
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from reconcile.localapi.disk.layout import DiskError, give_fd_to_user
from reconcile.localapi.disk.paths import make_symlink, open_dir_in_disk, open_in_disk

_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def unpack(disk: Path, path: str, data: bytes, content_type: str) -> None:
    """Unpack `data` (an archive object's bytes) into folder `path`; a gzip of a single file
    (not a tar) is written, decompressed, as the file `path`."""
    if not _is_tar(data):
        if content_type == "gzip" or data[:2] == b"\x1f\x8b":
            write_plain(disk, path, _gunzip(data))
            return
        raise DiskError(f"object for {path} is not a tar, tgz or gzip archive")
    os.close(open_dir_in_disk(disk, path, create=True))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive:
                _extract(archive, member, disk, path)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DiskError(f"cannot unpack the archive into {path}: {exc}") from None


def _is_tar(data: bytes) -> bool:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            archive.next()
        return True
    except (tarfile.TarError, EOFError, zlib.error, OSError):
        return False


def write_plain(disk: Path, path: str, data: bytes, mode: int = 0o644) -> None:
    """Write bytes to a devbox path (parents created), owned by the devbox user."""
    fd, _ = open_in_disk(disk, path, _WRITE, mode, create_parents=True)
    try:
        if not _is_regular(fd):
            raise DiskError(f"{path} is not a regular file")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        give_fd_to_user(fd)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DiskError(f"cannot decompress the gzip object: {exc}") from None


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith("/") or ".." in parts or "\0" in name:
        raise DiskError(f"archive member {name!r} points outside its folder")
    return posixpath.normpath(name)


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, disk: Path, folder: str) -> None:
    name = _member_name(member)
    if name == ".":
        return
    if member.isdev() or member.isfifo():
        raise DiskError(f"archive member {member.name!r} is a device or FIFO")
    try:
        # Only for its checks (links out, absolute links) and mode cleaning, against a dummy root.
        clean = tarfile.data_filter(member, "/nonexistent-unpack-root")
    except tarfile.FilterError as exc:
        raise DiskError(f"archive member {member.name!r} refused: {exc}") from None
    target = f"{folder.rstrip('/')}/{name}"
    mode = (clean.mode if clean.mode is not None else 0o644) & 0o777
    if member.isdir():
        fd = open_dir_in_disk(disk, target, create=True)
        try:
            os.fchmod(fd, mode | 0o700)
        finally:
            os.close(fd)
    elif member.issym():
        make_symlink(disk, target, member.linkname)
    elif member.isfile() or member.islnk():
        source = archive.extractfile(member)
        write_plain(disk, target, source.read() if source else b"", mode | 0o600)


def _is_regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)
