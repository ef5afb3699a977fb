"""Maps devbox paths onto a disk folder without ever leaving it; opens files race-free.

A devbox may be running (as an untrusted user) while the server reads or writes its disk as root,
so every step is an `openat` with O_NOFOLLOW on a directory descriptor: a folder swapped for a
symlink mid-walk cannot redirect a write to the host. Symlinks inside the disk are followed the way
the devbox sees them (absolute targets are devbox paths), and only while they stay on the disk.
It must not know about images or processes.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from reconcile.localapi.disk.layout import HOME, WRITABLE_ROOTS, DiskError, give_to_user

MAX_SYMLINKS = 40
Parts = tuple[str, ...]
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NOT_FOLLOWED = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)
# Parents above a writable root (e.g. `home` of `home/user`) belong to root, not the devbox user.
_SYSTEM_PARENTS = {
    tuple(PurePosixPath(r).parts[1:i]) for r in WRITABLE_ROOTS for i in range(2, len(r.split("/")))
}


class _MissingError(DiskError):
    """A folder on the way does not exist (fine when only resolving a path)."""


def devbox_parts(path: str) -> tuple[str, ...]:
    """The disk-relative parts of a devbox path (relative paths are under /home/user)."""
    if "\0" in path:
        raise DiskError("path may not contain NUL")
    p = PurePosixPath(path)
    if not p.is_absolute():
        p = PurePosixPath(HOME) / p
    if ".." in p.parts:
        raise DiskError(f"path {path!r} may not contain '..'")
    return _check_writable(p, path)


def _check_writable(p: PurePosixPath, original: str) -> tuple[str, ...]:
    if not any(p == PurePosixPath(r) or p.is_relative_to(r) for r in WRITABLE_ROOTS):
        roots = ", ".join(WRITABLE_ROOTS)
        raise DiskError(f"path {original!r} is outside the devbox disk ({roots})")
    return p.parts[1:]


def _redirect(
    prefix: tuple[str, ...], target: str, rest: tuple[str, ...], original: str
) -> tuple[str, ...]:
    """The parts reached by following a symlink at `prefix` + name → `target`, then `rest`."""
    base = target if target.startswith("/") else posixpath.join("/", *prefix, target)
    joined = posixpath.normpath(posixpath.join(base, *rest)) if rest else posixpath.normpath(base)
    if joined.startswith("//"):
        joined = joined[1:]
    try:
        return _check_writable(PurePosixPath(joined), joined)
    except DiskError:
        raise DiskError(
            f"path {original!r} leads out of the devbox disk through a symlink"
        ) from None


def _open_dir(parent: int, name: str, create: bool, owned_by_user: bool) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, 0o755, dir_fd=parent)
        if owned_by_user:
            give_to_user(name, dir_fd=parent)
    except FileExistsError:
        pass
    return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _follow(fd: int, name: str, prefix: Parts, rest: Parts, exc: OSError, original: str) -> Parts:
    """After opening `name` without following failed: the parts its symlink leads to."""
    if exc.errno not in _NOT_FOLLOWED:
        raise DiskError(f"cannot open {original}: {exc.strerror}") from None
    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        raise DiskError(f"not a directory on the way to {original}") from None
    return _redirect(prefix, os.readlink(name, dir_fd=fd), rest, original)


def _walk_dirs(disk_fd: int, dirs: Parts, create: bool, original: str) -> int | Parts:
    """Open folder `dirs` one O_NOFOLLOW step at a time: its fd, or where a symlink leads."""
    fd = os.dup(disk_fd)
    try:
        for i, name in enumerate(dirs):
            try:
                nfd = _open_dir(fd, name, create, dirs[: i + 1] not in _SYSTEM_PARENTS)
            except FileNotFoundError:
                raise _MissingError(f"no such file or directory: {original}") from None
            except OSError as exc:
                return _follow(fd, name, dirs[:i], dirs[i + 1 :], exc, original)
            os.close(fd)
            fd = nfd
        result, fd = fd, -1
        return result
    finally:
        if fd != -1:
            os.close(fd)


@contextmanager
def _opened_disk(disk: Path) -> Iterator[int]:
    try:
        fd = os.open(disk, _DIR_FLAGS)
    except FileNotFoundError:
        raise DiskError("the devbox has no disk") from None
    try:
        yield fd
    finally:
        os.close(fd)


def open_in_disk(
    disk: Path, path: str, flags: int, mode: int = 0o644, create_parents: bool = False
) -> tuple[int, Parts]:
    """Open a devbox path inside `disk`, following in-disk symlinks; returns (fd, resolved parts).

    The final component is opened with O_NOFOLLOW (a symlink there is followed by hand) and
    O_NONBLOCK (a FIFO cannot hang the server); callers check the file type with fstat."""
    parts = devbox_parts(path)
    with _opened_disk(disk) as disk_fd:
        for _ in range(MAX_SYMLINKS):
            where = _walk_dirs(disk_fd, parts[:-1], create_parents, path)
            if isinstance(where, tuple):
                parts = (*where, parts[-1])
                continue
            try:
                extra = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                return os.open(parts[-1], flags | extra, mode, dir_fd=where), parts
            except FileNotFoundError:
                raise DiskError(f"no such file or directory: {path}") from None
            except OSError as exc:
                parts = _follow(where, parts[-1], parts[:-1], (), exc, path)
            finally:
                os.close(where)
    raise DiskError(f"too many levels of symlinks: {path}")


def open_dir_in_disk(disk: Path, path: str, create: bool) -> int:
    """Open (and with `create`, make) the folder at a devbox path; returns its fd."""
    parts = devbox_parts(path)
    with _opened_disk(disk) as disk_fd:
        for _ in range(MAX_SYMLINKS):
            where = _walk_dirs(disk_fd, parts, create, path)
            if not isinstance(where, tuple):
                return where
            parts = where
    raise DiskError(f"too many levels of symlinks: {path}")


def make_symlink(disk: Path, path: str, target: str) -> None:
    """Create (or replace) a symlink at a devbox path; its own name is never followed."""
    parts = devbox_parts(path)
    with _opened_disk(disk) as disk_fd:
        for _ in range(MAX_SYMLINKS):
            where = _walk_dirs(disk_fd, parts[:-1], True, path)
            if isinstance(where, tuple):
                parts = (*where, parts[-1])
                continue
            try:
                _replace_symlink(where, parts[-1], target, path)
                return
            finally:
                os.close(where)
    raise DiskError(f"too many levels of symlinks: {path}")


def _replace_symlink(parent: int, name: str, target: str, original: str) -> None:
    try:
        os.symlink(target, name, dir_fd=parent)
    except FileExistsError:
        try:
            os.unlink(name, dir_fd=parent)
        except OSError as exc:
            raise DiskError(f"cannot replace {original}: {exc.strerror}") from None
        os.symlink(target, name, dir_fd=parent)
    give_to_user(name, dir_fd=parent)


def resolve_in_disk(disk: Path, path: str) -> Path:
    """The host path of a devbox path, all in-disk symlinks resolved (it need not exist yet).

    Only for callers that then act on a path they trust not to change; for content use
    open_in_disk, which is race-free."""
    parts = devbox_parts(path)
    with _opened_disk(disk) as disk_fd:
        for _ in range(MAX_SYMLINKS):
            try:
                where = _walk_dirs(disk_fd, parts[:-1], False, path)
            except _MissingError:
                return disk.joinpath(*parts)
            if isinstance(where, tuple):
                parts = (*where, parts[-1])
                continue
            try:
                st = os.stat(parts[-1], dir_fd=where, follow_symlinks=False)
            except FileNotFoundError:
                return disk.joinpath(*parts)
            else:
                if not stat.S_ISLNK(st.st_mode):
                    return disk.joinpath(*parts)
                target = os.readlink(parts[-1], dir_fd=where)
                parts = _redirect(parts[:-1], target, (), path)
            finally:
                os.close(where)
    raise DiskError(f"too many levels of symlinks: {path}")
