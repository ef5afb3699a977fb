"""What a devbox disk looks like on the host (folders, owner, ids); no snapshots, no processes.

A disk is one host folder mirroring the devbox's writable places: `home/user`, `tmp`, `var/tmp`
and `opt`. The sandbox binds those onto the same paths inside the devbox; everything else the
devbox sees is the read-only host system.
"""

from __future__ import annotations

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
