"""HTTP/2 without TLS against `local serve` and the embedded backend: a generic prior-knowledge
client (`h2`) runs the main flows on one connection, long-polls held there do not hold up other
streams, an injected drop resets only its stream; curl checks prior knowledge and h2c upgrade."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from h2_support import H2Client, local_serve

from reconcile.localapi import LocalConfig, start_in_thread

HELD = 40  # long-polls held at once on the one connection


@pytest.fixture(params=["local-serve", "embedded"])
def endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(url, token) of a fresh server: `rlstate local serve` in a subprocess, or in-process."""
    if request.param == "local-serve":
        with local_serve(tmp_path / "data") as served:
            yield served.url, served.token
    else:
        config = LocalConfig(data_dir=tmp_path / "data", port=0, transition_seconds=0.05)
        with start_in_thread(config) as server:
            yield server.url, server.token


@pytest.fixture
def client(endpoint: tuple[str, str]) -> Iterator[H2Client]:
    conn = H2Client(*endpoint)
    yield conn
    conn.close()


def _running_devbox(client: H2Client) -> str:
    devbox_id: str = client.call("POST", "/v1/devboxes", {"name": "h2"}).json()["id"]
    wait = {"statuses": ["running"], "timeout_seconds": 30}
    view = client.call("POST", f"/v1/devboxes/{devbox_id}/wait_for_status", wait).json()
    assert view["status"] == "running"
    return devbox_id


def test_create_execute_snapshot_and_upload_over_one_connection(client: H2Client) -> None:
    devbox_id = _running_devbox(client)
    body = {"command": "echo hi > note.txt && cat note.txt", "optimistic_timeout": 25}
    execution = client.call("POST", f"/v1/devboxes/{devbox_id}/execute", body).json()
    assert (execution["status"], execution["exit_status"], execution["stdout"]) == (
        "completed",
        0,
        "hi\n",
    )

    snapshot = client.call("POST", f"/v1/devboxes/{devbox_id}/snapshot_disk", {}).json()
    status = client.call("GET", f"/v1/devboxes/disk_snapshots/{snapshot['id']}/status").json()
    assert status["status"] == "complete"

    obj = client.call("POST", "/v1/objects", {"name": "o.txt", "content_type": "text"}).json()
    upload = urlsplit(obj["upload_url"])
    (put,) = client.wait(client.send("PUT", f"{upload.path}?{upload.query}", raw=b"payload"))
    assert put.status == 200, bytes(put.body)
    client.call("POST", f"/v1/objects/{obj['id']}/complete", {})
    link = client.call("GET", f"/v1/objects/{obj['id']}/download").json()["download_url"]
    download = urlsplit(link)
    got = client.call("GET", f"{download.path}?{download.query}")
    assert bytes(got.body) == b"payload"


def test_held_long_polls_do_not_hold_up_other_streams(client: H2Client) -> None:
    devbox_id = _running_devbox(client)
    wait = {"statuses": ["shutdown"], "timeout_seconds": 30}
    held = [
        client.send("POST", f"/v1/devboxes/{devbox_id}/wait_for_status", wait) for _ in range(HELD)
    ]

    for n in range(5):  # answered while every long-poll is still open
        body = {"command": f"echo {n}", "optimistic_timeout": 25}
        view = client.call("POST", f"/v1/devboxes/{devbox_id}/execute", body).json()
        assert view["stdout"] == f"{n}\n"
        assert client.call("GET", f"/v1/devboxes/{devbox_id}").json()["status"] == "running"
        assert not any(client.done(sid) for sid in held)

    client.call("POST", f"/v1/devboxes/{devbox_id}/shutdown", {})
    answers = client.wait(*held)
    assert {(a.status, a.json()["status"]) for a in answers} == {(200, "shutdown")}


def test_an_injected_drop_resets_only_its_stream(client: H2Client) -> None:
    client.call("POST", "/_local/faults", {"drop_rate": 1.0})
    dropped, fine = client.send("GET", "/v1/devboxes"), client.send("GET", "/_local/info")
    answers = client.wait(dropped, fine)
    assert (answers[0].reset, answers[0].status) == (True, 0)
    assert (answers[1].complete, answers[1].status) == (True, 200)

    client.call("POST", "/_local/faults", {"drop_rate": 0.0})
    assert client.call("GET", "/v1/devboxes").json()["devboxes"] == []


@pytest.mark.parametrize("flag", ["--http2-prior-knowledge", "--http2"])  # --http2: h2c upgrade
def test_curl_speaks_http2_without_tls(endpoint: tuple[str, str], flag: str) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    if "HTTP2" not in subprocess.run([curl, "-V"], capture_output=True, text=True).stdout:
        pytest.skip("this curl has no HTTP/2 support")
    url, token = endpoint
    auth, out = f"Authorization: Bearer {token}", "\n%{http_version}"
    done = subprocess.run(
        [curl, "-sS", flag, "-H", auth, "-w", out, f"{url}/v1/devboxes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    body, version = done.stdout.rsplit("\n", 1)
    assert (done.returncode, version) == (0, "2"), done.stderr
    assert '"devboxes":[]' in body.replace(" ", "")


def test_a_stop_answers_long_polls_held_on_an_http2_connection(tmp_path: Path) -> None:
    config = LocalConfig(data_dir=tmp_path / "data", port=0, transition_seconds=0.05)
    server = start_in_thread(config)
    try:
        client = H2Client(server.url, server.token)
        devbox_id = _running_devbox(client)
        wait = {"statuses": ["shutdown"], "timeout_seconds": 30}
        held = [
            client.send("POST", f"/v1/devboxes/{devbox_id}/wait_for_status", wait) for _ in range(5)
        ]
        deadline = time.monotonic() + 60
        while server.requests_in_progress < len(held):  # until the server holds them all
            assert time.monotonic() < deadline, "the long-polls never reached the server"
            time.sleep(0.01)
    finally:
        stopping = threading.Thread(target=server.stop)
        stopping.start()
    answers = client.wait(*held)
    stopping.join()
    assert [a.status for a in answers] == [408] * len(held)


def test_a_long_poll_whose_http2_client_vanished_still_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that exits mid-wait (as a Node.js script whose long-poll timed out does) leaves
    its held request without a connection; once woken, it must end, and a stop stays clean."""
    config = LocalConfig(data_dir=tmp_path / "data", port=0, transition_seconds=0.05)
    server = start_in_thread(config)
    try:
        client = H2Client(server.url, server.token)
        devbox_id = _running_devbox(client)
        wait = {"statuses": ["shutdown"], "timeout_seconds": 30}
        client.send("POST", f"/v1/devboxes/{devbox_id}/wait_for_status", wait)
        _until(lambda: server.requests_in_progress == 1, "the long-poll reaching the server")
        client.sock.close()  # gone without a GOAWAY, as a process that exits

        other = H2Client(server.url, server.token)
        other.call("POST", f"/v1/devboxes/{devbox_id}/shutdown")  # wakes the held long-poll
        other.close()
        _until(lambda: server.requests_in_progress == 0, "the woken long-poll ending")
    finally:
        server.stop()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in time"
        time.sleep(0.01)
