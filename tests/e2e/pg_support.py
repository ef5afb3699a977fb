"""A real PostgreSQL server for the lock-backend tests: `initdb` and `pg_ctl` on a temporary
folder and a free loopback port. Tests skip, saying why, where the binaries are absent.

initdb refuses to run as root, so under root the server runs as an unprivileged user
(`nobody`, or RLSTATE_TEST_PG_USER) in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "postgres"
SUPER_PASSWORD = "super-secret-pw"
ROLE, ROLE_PASSWORD = "rlstate", "team-secret-pw"
NO_GRANTS, NO_GRANTS_PASSWORD = "nogrants", "nogrants-pw"


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> tuple[Callable[[], None] | None, int, int]:
    """A preexec function dropping to an unprivileged user when we are root, and its ids."""
    if os.geteuid() != 0:
        return None, os.getuid(), os.getgid()
    name = os.environ.get("RLSTATE_TEST_PG_USER", "nobody")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        pytest.skip(f"running as root and there is no user {name!r} to run PostgreSQL as")
    uid, gid = entry.pw_uid, entry.pw_gid

    def drop() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return drop, uid, gid


@dataclass
class PgServer:
    """A running server: URLs for its roles, and control over its life."""

    bin_dir: Path
    data: Path
    port: int
    preexec: Callable[[], None] | None

    def url(self, role: str = ROLE, password: str = ROLE_PASSWORD, db: str = "rlstate") -> str:
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{db}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args],
            preexec_fn=self.preexec,
            env={**os.environ, "LC_ALL": "C"},
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.data}"
        self._ctl("start", "-w", "-t", "60", "-l", str(self.data / "server.log"), "-o", options)

    def restart(self) -> None:
        """A fast restart: every session ends (so every advisory lock is freed)."""
        self._ctl("stop", "-w", "-m", "fast")
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._ctl("stop", "-w", "-m", "immediate")

    def new_database(self, name: str) -> str:
        """A fresh database owned by the team role; its URL."""
        import psycopg

        with psycopg.connect(self.url(SUPERUSER, SUPER_PASSWORD, "postgres"), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.url(db=name)

    def advisory_holders(self, db: str) -> list[int]:
        """Server pids of the sessions holding a bigint advisory lock in database `db`."""
        import psycopg

        with psycopg.connect(self.url(SUPERUSER, SUPER_PASSWORD, db), autocommit=True) as c:
            rows = c.execute(
                "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND d.datname = %s",
                (db,),
            ).fetchall()
        return [int(r[0]) for r in rows]


def _set_up_roles(server: PgServer) -> None:
    import psycopg

    with psycopg.connect(server.url(SUPERUSER, SUPER_PASSWORD, "postgres"), autocommit=True) as c:
        c.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'")
        c.execute(f"CREATE ROLE {NO_GRANTS} LOGIN PASSWORD '{NO_GRANTS_PASSWORD}'")
        c.execute(f"CREATE DATABASE rlstate OWNER {ROLE}")


def running_server() -> Iterator[PgServer]:
    """Starts a server (skipping where impossible), yields it, stops it."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    preexec, uid, gid = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="rlstate-pg-"))
    os.chown(folder, uid, gid)
    data = folder / "data"
    pwfile = folder / "pw"
    pwfile.write_text(SUPER_PASSWORD + "\n")
    os.chown(pwfile, uid, gid)
    init = subprocess.run(
        [
            *(str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}"),
            *("--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"),
        ],
        preexec_fn=preexec,
        env={**os.environ, "LC_ALL": "C"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"initdb failed here: {init.stderr.strip()[-300:]}")
    server = PgServer(bin_dir, data, _free_port(), preexec)
    try:
        server.start()
        _set_up_roles(server)
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
