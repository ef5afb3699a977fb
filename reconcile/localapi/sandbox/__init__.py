"""Runs devbox shell commands (bubblewrap, else plain subprocess); must not import the reconciler.

Modes:
- "bubblewrap": the command sees a read-only host system (/usr, /etc, /bin, /lib*, /sbin),
  its own disk on /home/user, /tmp, /var/tmp and /opt, a fresh /proc and /dev, its own
  PID/IPC/UTS namespaces and the host network (so 127.0.0.1 reaches the local server). It runs
  as `user` (uid 1000) with every capability dropped and no_new_privs set. The user's home,
  the host /tmp, other devboxes' disks and `hidden_paths` are not visible.
- "subprocess" (no bwrap, or forced): a login bash with cwd and HOME (and TMPDIR) set to the
  devbox's folders, in its own session/process group, as uid 1000 when the server is root and
  uid 1000 can reach the disks, else as the server's user. This is NOT isolation: the command
  sees the whole host filesystem and network namespace, absolute paths (/tmp, /home/user) mean
  the host's, and a process that starts its own session escapes `kill`.

As root, bubblewrap runs without a user namespace and drops to uid 1000 with setpriv, so uids
on the disk are the host's: files the devbox writes are 1000-owned on the host, and the server's
(chowned to 1000) are writable inside. Without root (or setpriv), a user namespace maps the
caller to uid 1000 instead. bwrap's --die-with-parent ties a sandbox to the thread that spawned
it: call spawn from the event loop's thread, not from a short-lived worker thread.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import signal
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconcile.localapi.disk import DEVBOX_GID, DEVBOX_UID, HOME, DiskError, DiskStore
from reconcile.localapi.disk.layout import ensure_layout
from reconcile.localapi.sandbox.bwrap import BwrapConfig, build_bwrap_argv, write_identity_files

MODES = ("bubblewrap", "subprocess")
_BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "USER": "user",
    "LOGNAME": "user",
    "SHELL": "/bin/bash",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}


class Sandbox:
    """Runs shell commands inside a devbox's disk: bubblewrap when available, else subprocess."""

    mode: str

    def __init__(
        self,
        disks: DiskStore,
        hidden_paths: Sequence[Path] = (),
        force_mode: str | None = None,
    ) -> None:
        if force_mode is not None and force_mode not in MODES:
            raise ValueError(f"force_mode must be one of {MODES}, not {force_mode!r}")
        self._disks = disks
        bwrap = shutil.which("bwrap")
        if force_mode == "bubblewrap" and bwrap is None:
            raise RuntimeError("bubblewrap (bwrap) is not installed")
        self.mode = force_mode or ("bubblewrap" if bwrap else "subprocess")
        self._bwrap = bwrap or "bwrap"
        self._hidden = (*(Path(p) for p in hidden_paths), disks.root)
        self._identity = (disks.root / "sandbox-etc") if self.mode == "bubblewrap" else None
        if self._identity is not None:
            write_identity_files(self._identity)
        # Subprocess mode as root: still drop to the devbox user when it can reach the disks.
        self._as_user = (
            self.mode == "subprocess"
            and os.geteuid() == 0
            and _traversable_by_user(disks.root / "disks")
        )

    def argv(self, devbox_id: str, command: str) -> list[str]:
        """The full argv that runs `command` for this devbox (exposed for tests and benchmarks)."""
        shell = ["/bin/bash", "-l", "-c", command]
        if self.mode == "subprocess":
            return shell
        assert self._identity is not None
        config = BwrapConfig(
            bwrap=self._bwrap,
            disk=self._disks.disk_path(devbox_id),
            hostname=devbox_id,
            identity_dir=self._identity,
            hidden_paths=self._hidden,
            as_root=os.geteuid() == 0,
        )
        return build_bwrap_argv(config, shell)

    def tmp_dir(self, devbox_id: str) -> str:
        """The devbox's own /tmp as its commands see it (subprocess mode: a folder on the host)."""
        if self.mode == "subprocess":
            return str(self._disks.disk_path(devbox_id) / "tmp")
        return "/tmp"

    def environment(self, devbox_id: str, env: Mapping[str, str]) -> dict[str, str]:
        """The environment the command starts with: a clean base, then the devbox's variables."""
        home = HOME
        if self.mode == "subprocess":
            disk = self._disks.disk_path(devbox_id)
            home = str(disk / "home/user")
            extra = {"TMPDIR": str(disk / "tmp")}
        else:
            extra = {}
        return {**_BASE_ENV, "HOME": home, **extra, **env}

    async def spawn(
        self, devbox_id: str, command: str, env: Mapping[str, str]
    ) -> asyncio.subprocess.Process:
        """Start `command` in a fresh login bash in the devbox (stdout/stderr PIPEs, no stdin).

        Raises DiskError when the devbox has no disk or its layout is damaged, OSError when the
        process cannot be started."""
        disk = self._disks.disk_path(devbox_id)
        if not disk.is_dir():
            raise DiskError(f"devbox {devbox_id} has no disk")
        ensure_layout(disk)
        argv = self.argv(devbox_id, command)
        cwd = str(disk / "home/user") if self.mode == "subprocess" else "/"
        user: dict[str, object] = {}
        if self._as_user:
            user = {"user": DEVBOX_UID, "group": DEVBOX_GID, "extra_groups": []}
        # Environment values go through the process environment, never argv: argv is world-readable.
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=self.environment(devbox_id, env),
                start_new_session=True,
                **user,  # type: ignore[arg-type]
            )
        except ValueError as exc:  # a NUL byte in the command or env, "=" in an env name
            raise OSError(errno.EINVAL, f"cannot start the command: {exc}") from None

    async def kill(self, proc: asyncio.subprocess.Process, sig: int = signal.SIGKILL) -> None:
        """Signal the command's whole process group (bubblewrap: the whole PID namespace dies)."""
        if proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return


def _traversable_by_user(folder: Path) -> bool:
    """Whether uid DEVBOX_UID (not in any of its owners' groups) may enter `folder`."""
    for part in (folder, *folder.parents):
        st = part.stat()
        if st.st_uid == DEVBOX_UID:
            bit = stat.S_IXUSR
        elif st.st_gid == DEVBOX_GID:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


__all__ = ["MODES", "Sandbox"]
