"""What a bubblewrap devbox must never see or do, checked from inside real sandboxed commands.

Skipped as a whole where bwrap is absent (the subprocess fallback isolates nothing).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reconcile.localapi.disk import DiskStore
from reconcile.localapi.sandbox import Sandbox
from reconcile.localapi.sandbox.bwrap import BwrapConfig, build_bwrap_argv

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed"
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Stands in for the server's data dir: disks plus a token file."""
    folder = tmp_path / "server-data"
    folder.mkdir()
    (folder / "token").write_text("server-token")
    return folder


@pytest.fixture
def store(data_dir: Path) -> Iterator[DiskStore]:
    ds = DiskStore(data_dir / "disks")
    ds.create_disk("dbx_a")
    ds.create_disk("dbx_b")
    yield ds
    ds.close()


@pytest.fixture
def sandbox(store: DiskStore, data_dir: Path) -> Sandbox:
    return Sandbox(store, hidden_paths=[data_dir], force_mode="bubblewrap")


def sh(sandbox: Sandbox, command: str, box: str = "dbx_a", env: Mapping[str, str] = {}) -> str:
    """Run a command in the devbox; returns stdout, failing the test on a non-zero exit."""

    async def go() -> tuple[int | None, bytes, bytes]:
        proc = await sandbox.spawn(box, command, env)
        out, err = await proc.communicate()
        return proc.returncode, out, err

    code, out, err = asyncio.run(go())
    assert code == 0, f"{command!r} exited {code}: {err.decode()}"
    return out.decode()


def absent(sandbox: Sandbox, path: Path | str, box: str = "dbx_a") -> bool:
    return sh(sandbox, f"test -e '{path}' && echo seen || echo absent", box) == "absent\n"


def test_runs_as_user_1000_named_user_in_its_home(sandbox: Sandbox) -> None:
    assert sh(sandbox, "id -u; id -g; whoami; echo $HOME; pwd").split() == [
        "1000",
        "1000",
        "user",
        "/home/user",
        "/home/user",
    ]


def test_has_no_capabilities_and_cannot_gain_privileges(sandbox: Sandbox) -> None:
    status = dict(
        line.split(":\t", 1) for line in sh(sandbox, "cat /proc/self/status").splitlines()
    )
    assert status["CapEff"].strip() == "0000000000000000"
    assert status["CapBnd"].strip() == "0000000000000000"
    assert status["NoNewPrivs"].strip() == "1"


def test_cannot_see_the_users_home(sandbox: Sandbox) -> None:
    assert absent(sandbox, "/root")
    assert sh(sandbox, "ls -A /home") == "user\n"


def test_cannot_see_the_host_tmp(sandbox: Sandbox) -> None:
    with tempfile.NamedTemporaryFile(dir="/tmp", prefix="rlstate-marker-") as marker:
        assert Path(marker.name).exists()
        assert absent(sandbox, marker.name)


def test_cannot_see_the_server_data_dir_or_token(sandbox: Sandbox, data_dir: Path) -> None:
    assert absent(sandbox, data_dir)
    assert absent(sandbox, data_dir / "token")
    assert "server-token" not in sh(sandbox, "cat /home/user/../../../token 2>&1 || true")


def test_hidden_paths_under_system_folders_are_covered(store: DiskStore) -> None:
    """A hidden path inside a folder the devbox sees read-only (here /usr/local/share)."""
    share = Path("/usr/local/share")
    if not os.access(share, os.W_OK):
        pytest.skip("needs write access to /usr/local/share to plant a hidden folder")
    planted = share / f"rlstate-hidden-{uuid.uuid4().hex[:8]}"
    planted.mkdir()
    try:
        (planted / "token").write_text("t")
        (planted / "single-file").write_text("f")
        hidden = [planted, planted / "single-file"]
        sandbox = Sandbox(store, hidden_paths=hidden, force_mode="bubblewrap")
        assert absent(sandbox, planted / "token")
        assert sh(sandbox, f"cat {planted}/single-file 2>/dev/null || echo hidden") == "hidden\n"
    finally:
        shutil.rmtree(planted)


def test_cannot_see_another_devboxs_files(sandbox: Sandbox, store: DiskStore) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    sh(sandbox, f"echo a > ~/{marker}; echo a > /tmp/{marker}; echo a > /opt/{marker}")
    assert store.read_file("dbx_a", f"/tmp/{marker}") == b"a\n"
    found = sh(
        sandbox, f"find / -name '{marker}*' -not -path '/proc/*' 2>/dev/null || true", "dbx_b"
    )
    assert found == ""
    assert absent(sandbox, store.disk_path("dbx_a"), "dbx_b")


@pytest.mark.parametrize("path", ["/usr/x", "/etc/x", "/bin/x", "/lib/x", "/x", "/home/x"])
def test_system_is_read_only(sandbox: Sandbox, path: str) -> None:
    assert sh(sandbox, f"touch {path} 2>/dev/null && echo wrote || echo refused") == "refused\n"


@pytest.mark.parametrize("folder", ["/home/user", "/tmp", "/var/tmp", "/opt"])
def test_writable_places_land_on_the_devbox_disk(
    sandbox: Sandbox, store: DiskStore, folder: str
) -> None:
    sh(sandbox, f"echo kept > {folder}/w.txt")
    assert store.read_file("dbx_a", f"{folder}/w.txt") == b"kept\n"


def test_shared_memory_is_private_and_writable(sandbox: Sandbox) -> None:
    sh(sandbox, "echo a > /dev/shm/seg")
    assert sh(sandbox, "ls -A /dev/shm", "dbx_b") == ""


def test_has_its_own_pid_namespace(sandbox: Sandbox) -> None:
    pids = sh(sandbox, "ls /proc | grep -E '^[0-9]+$'").split()
    assert len(pids) < 10, pids
    assert "python" not in sh(sandbox, "cat /proc/[0-9]*/comm")
    assert "bwrap" in sh(sandbox, "cat /proc/1/comm")


def test_hostname_is_the_devbox_id(sandbox: Sandbox) -> None:
    assert sh(sandbox, "hostname") == "dbx_a\n"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the host"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def host_http() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_reaches_the_host_loopback_with_curl(sandbox: Sandbox, host_http: int) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed on this host (devboxes use the host's /usr)")
    assert sh(sandbox, f"curl -fsS http://127.0.0.1:{host_http}/") == "hello from the host"


def test_reaches_the_host_loopback_with_bash(sandbox: Sandbox, host_http: int) -> None:
    with socket.create_connection(("127.0.0.1", host_http)):
        pass
    out = sh(
        sandbox,
        f"exec 3<>/dev/tcp/127.0.0.1/{host_http}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3",
    )
    assert out.endswith("hello from the host")


def test_hidden_path_arguments_cover_only_exposed_trees(tmp_path: Path) -> None:
    config = BwrapConfig(
        bwrap="bwrap",
        disk=tmp_path,
        hostname="h",
        identity_dir=tmp_path,
        hidden_paths=[Path("/etc/hostname"), Path("/usr/share"), tmp_path],
    )
    argv = build_bwrap_argv(config, ["true"])
    at = argv.index("/etc/hostname")
    assert argv[at - 2 : at + 1] == ["--ro-bind", "/dev/null", "/etc/hostname"]
    covered = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--tmpfs"]
    assert covered == ["/dev/shm", "/usr/share"], "paths the devbox cannot see need no cover"
