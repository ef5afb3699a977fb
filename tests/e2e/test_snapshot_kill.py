"""A snapshot the server answered `complete` survives the server being SIGKILLed right after.

The server (`rlstate local serve`, a subprocess) takes a snapshot of a devbox holding large and
small files, compressible and not; it is killed the moment a status poll answers `complete`, a
new server is started on the same data dir, and a devbox restored from the snapshot holds the
same bytes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from chaos_support import ServerProcess

FILL = (
    "head -c 9000000 /dev/urandom > random.bin"
    " && yes 'compressible line of text' | head -c 13000000 > text.txt"
    " && mkdir -p src && for i in $(seq 1 300); do seq 1 $i > src/f$i.txt; done"
    " && head -c 70000 /dev/urandom > src/just-large.bin"
)
# the number of files and one digest over every file's sha256 (the output is kept short)
DIGESTS = (
    'X=$(find . -type f -print0 | sort -z | xargs -0 sha256sum); echo "$X" | wc -l;'
    ' echo "$X" | sha256sum'
)


def _running(c: httpx.Client, **body: Any) -> str:
    created = c.post("/v1/devboxes", json=body)
    assert created.status_code == 200, created.text
    devbox_id: str = created.json()["id"]
    waited = c.post(
        f"/v1/devboxes/{devbox_id}/wait_for_status",
        json={"statuses": ["running"], "timeout_seconds": 60},
    )
    assert waited.status_code == 200 and waited.json()["status"] == "running", waited.text
    return devbox_id


def _run(c: httpx.Client, devbox_id: str, command: str) -> str:
    reply = c.post(
        f"/v1/devboxes/{devbox_id}/execute",
        json={"command": command, "optimistic_timeout": 50},
    )
    view = reply.json()
    assert view["status"] == "completed" and view["exit_status"] == 0, view
    out: str = view["stdout"]
    return out


def _wait_complete(c: httpx.Client, snap_id: str) -> None:
    """Poll the status (no sleep: each poll is a round trip) until it answers `complete`."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = c.get(f"/v1/devboxes/disk_snapshots/{snap_id}/status").json()["status"]
        assert status in ("in_progress", "complete"), status
        if status == "complete":
            return
    raise AssertionError("the snapshot did not complete within 120 s")


@pytest.mark.timeout(240)
def test_a_complete_snapshot_survives_a_sigkill_right_after_the_answer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = ServerProcess(data)
    try:
        with server.start().client(timeout=120) as c:
            source = _running(c)
            _run(c, source, FILL)
            before = _run(c, source, DIGESTS)
            taken = c.post(f"/v1/devboxes/{source}/snapshot_disk_async", json={"name": "durable"})
            assert taken.status_code == 200, taken.text
            snap_id = taken.json()["id"]
            _wait_complete(c, snap_id)
            server.kill()  # at once: no shutdown, nothing flushed by the server after the answer
        with server.start().client(timeout=120) as c:
            status = c.get(f"/v1/devboxes/disk_snapshots/{snap_id}/status").json()
            assert status["status"] == "complete"
            restored = _running(c, snapshot_id=snap_id)
            after = _run(c, restored, DIGESTS)
            downloaded = c.post(
                f"/v1/devboxes/{restored}/download_file", json={"path": "src/f7.txt"}
            )
    finally:
        server.stop()
    assert after == before
    assert int(before.split()[0]) >= 302, before
    assert downloaded.content == "".join(f"{i}\n" for i in range(1, 8)).encode()
