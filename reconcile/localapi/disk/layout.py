"""What a devbox disk looks like on the host (folders, owner, ids); no snapshots, no processes.

A disk is one host folder mirroring the devbox's writable places: `home/user`, `tmp`, `var/tmp`
and `opt`. The sandbox binds those onto the same paths inside the devbox; everything else the
devbox sees is the read-only host system.
"""

from __future__ import annotations

import array
import errno
import fcntl
import os
import re
import shutil
import stat
from pathlib import Path

DEVBOX_UID = 1000
DEVBOX_GID = 1000
HOME = "/home/user"
# Absolute devbox paths stored on the devbox's own disk, with their modes on a fresh disk.
WRITABLE_ROOTS = {"/home/user": 0o755, "/tmp": 0o1777, "/var/tmp": 0o1777, "/opt": 0o755}
_USER_ROOTS = ("/home/user", "/opt")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SKEL = Path("/etc/skel")
# Debian's .bash_logout clears the terminal, which puts escape codes into command output.
_SKEL_SKIPPED = {".bash_logout"}
# ext2/3/4 inode flags (linux/fs.h, 64-bit): FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_TOPDIR_FL
_GETFLAGS, _SETFLAGS, _TOPDIR = 0x80086601, 0x40086602, 0x00020000
_NO_FLAGS = (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM, errno.EACCES)


class DiskError(Exception):
    """Any failure of a disk operation; the message is meant for the user."""


def check_id(kind: str, value: str) -> str:
    """Return `value` if it is safe as a single folder/file name, else raise DiskError."""
    if not _ID.match(value) or ".." in value:
        raise DiskError(f"invalid {kind} id {value!r}")
    return value


def owns_files() -> bool:
    """Whether we can (and must) hand files to the devbox user: only when running as root."""
    return os.geteuid() == 0


def give_to_user(path: Path | str, dir_fd: int | None = None) -> None:
    """Make a server-written file or folder owned by the devbox user (when running as root)."""
    if owns_files():
        os.chown(path, DEVBOX_UID, DEVBOX_GID, dir_fd=dir_fd, follow_symlinks=False)


def give_fd_to_user(fd: int) -> None:
    """Like give_to_user, for an open file."""
    if owns_files():
        os.fchown(fd, DEVBOX_UID, DEVBOX_GID)


def ensure_layout(disk: Path) -> None:
    """Check that every writable root is a real folder (never a symlink: the sandbox binds these
    host paths, and a symlink would expose its target) and create any that is missing."""
    for root, mode in WRITABLE_ROOTS.items():
        folder = disk
        for i, part in enumerate(root.strip("/").split("/")):
            folder = folder / part
            last = i == root.count("/") - 1
            try:
                st = os.lstat(folder)
            except FileNotFoundError:
                _make_root_dir(folder, mode if last else 0o755, last and root in _USER_ROOTS)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise DiskError(f"the devbox disk is damaged: {root} is not a folder")


def spread_subfolders(folder: Path) -> bool:
    """Mark `folder` so ext4 places each folder made in it away from its siblings (chattr +T).

    Without a journal, ext4 will not reuse an inode freed in the last minute or so, and finding
    a free one costs a scan of every recently freed inode in the group, per file created: where
    a deleted disk's 20,000 files were, a restore of 20,000 files spent 30-50 s in the kernel
    (1.5 s elsewhere). Disks are built in one folder and deleted from the same groups, so that
    folder spreads them. Only a hint: False where the file system has no such flag."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _GETFLAGS, flags, True)
        if not flags[0] & _TOPDIR:
            fcntl.ioctl(fd, _SETFLAGS, array.array("i", [flags[0] | _TOPDIR]))
        return True
    except OSError as exc:
        if exc.errno not in _NO_FLAGS:
            raise
        return False
    finally:
        os.close(fd)


def _make_root_dir(folder: Path, mode: int, for_user: bool) -> None:
    folder.mkdir(mode=mode)
    folder.chmod(mode)  # mkdir's mode is cut by the umask and never sets the sticky bit
    if for_user:
        give_to_user(folder)


def make_fresh_disk(disk: Path) -> None:
    """Build a new default disk at `disk`: empty writable roots, a home seeded from /etc/skel."""
    disk.mkdir(mode=0o755)
    ensure_layout(disk)
    home = disk / HOME.lstrip("/")
    if _SKEL.is_dir():
        for item in _SKEL.iterdir():
            if item.is_file() and not item.is_symlink() and item.name not in _SKEL_SKIPPED:
                shutil.copy2(item, home / item.name)
                give_to_user(home / item.name)
