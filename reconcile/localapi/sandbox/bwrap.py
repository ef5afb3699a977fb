"""Builds the bubblewrap command line for a devbox command; reads the host layout, starts nothing.

__init__.py starts the processes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconcile.localapi.disk import DEVBOX_GID, DEVBOX_UID, HOME, WRITABLE_ROOTS

# Host trees a devbox sees read-only; merged-/usr symlinks (/bin → usr/bin) stay symlinks.
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    f"user:x:{DEVBOX_UID}:{DEVBOX_GID}:user:{HOME}:/bin/bash\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
_GROUP = f"root:x:0:\nuser:x:{DEVBOX_GID}:\nnogroup:x:65534:\n"


@dataclass(frozen=True)
class BwrapConfig:
    """What one sandboxed command needs to know about the host and its devbox."""

    bwrap: str
    disk: Path
    hostname: str
    identity_dir: Path
    hidden_paths: Sequence[Path] = ()
    as_root: bool = True


def write_identity_files(folder: Path) -> None:
    """Write the passwd/group files shown as the devbox's /etc/passwd and /etc/group."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("passwd", _PASSWD), ("group", _GROUP)):
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text)
        tmp.chmod(0o644)
        os.replace(tmp, folder / name)


def build_bwrap_argv(config: BwrapConfig, command: Sequence[str]) -> list[str]:
    """The bwrap argv running `command` as the devbox user over its disk."""
    argv = [config.bwrap, *_namespace_args(config.hostname)]
    argv += _system_args()
    argv += ["--proc", "/proc", "--dev", "/dev", "--dir", "/var", "--dir", "/home"]
    # --dev's /dev/shm belongs to root (no user namespace): POSIX semaphores need a 1777 one.
    argv += ["--perms", "1777", "--tmpfs", "/dev/shm"]
    argv += _hidden_args(config.hidden_paths)
    argv += ["--ro-bind", str(config.identity_dir / "passwd"), "/etc/passwd"]
    argv += ["--ro-bind", str(config.identity_dir / "group"), "/etc/group"]
    for root in WRITABLE_ROOTS:
        argv += ["--bind", str(config.disk / root.lstrip("/")), root]
    argv += ["--chdir", HOME]
    argv += _identity_args(config.as_root)
    return [*argv, *command]


def _namespace_args(hostname: str) -> list[str]:
    return [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        hostname[:63],
        "--die-with-parent",
        "--new-session",
    ]


def _system_args() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _hidden_args(hidden_paths: Sequence[Path]) -> list[str]:
    """Cover hidden host paths that would otherwise show through a read-only system tree."""
    args: list[str] = []
    exposed = [Path(p) for p in SYSTEM_PATHS if os.path.isdir(p) and not os.path.islink(p)]
    for hidden in hidden_paths:
        real = Path(os.path.realpath(hidden))
        if not any(real.is_relative_to(top) for top in exposed):
            continue
        if real.is_dir():
            args += ["--tmpfs", str(real)]
        elif real.exists():
            args += ["--ro-bind", "/dev/null", str(real)]
    return args


def _identity_args(as_root: bool) -> list[str]:
    """Run as uid 1000. As root, keep host uids 1:1 (files the devbox writes are 1000-owned on
    the host) and drop to the user with setpriv; else map the caller to 1000 in a user namespace."""
    setpriv = shutil.which("setpriv")
    if as_root and setpriv:
        return [
            "--",
            setpriv,
            f"--reuid={DEVBOX_UID}",
            f"--regid={DEVBOX_GID}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]
    return ["--unshare-user", "--uid", str(DEVBOX_UID), "--gid", str(DEVBOX_GID), "--"]
