"""State survives a restart over the same data dir, and nothing is left in progress afterwards."""

from __future__ import annotations

import logging
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import StartServer
from localapi_support import client_for, run, running_devbox


def test_records_files_and_replies_survive_a_restart(
    start_server: StartServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    with client_for(first) as api:
        devbox = running_devbox(api, name="persist", metadata={"k": "v"})
        run(api, devbox["id"], "echo on disk > kept.txt")
        snap = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk", json={"name": "s"}).json()
        obj = api.post("/v1/objects", json={"name": "o", "content_type": "text"}).json()
        api.put(obj["upload_url"], content=b"bytes")
        api.post(f"/v1/objects/{obj['id']}/complete")
        replied = api.post(
            "/v1/devboxes", json={"name": "dedupe"}, headers={"x-request-id": "same-key"}
        ).json()
    first.stop()

    second = start_server(data)
    assert second.token == first.token  # kept in data_dir/token
    with client_for(second) as api:
        again = api.get(f"/v1/devboxes/{devbox['id']}").json()
        assert (again["status"], again["metadata"]) == ("running", {"k": "v"})
        assert run(api, devbox["id"], "cat kept.txt")["stdout"] == "on disk\n"
        status = api.get(f"/v1/devboxes/disk_snapshots/{snap['id']}/status").json()
        assert status["status"] == "complete"
        url = api.get(f"/v1/objects/{obj['id']}/download").json()["download_url"]
        assert api.get(url).content == b"bytes"
        replay = api.post(
            "/v1/devboxes", json={"name": "dedupe"}, headers={"x-request-id": "same-key"}
        )
        assert replay.json()["id"] == replied["id"]
        restored = running_devbox(api, snapshot_id=snap["id"])
        assert run(api, restored["id"], "cat kept.txt")["stdout"] == "on disk\n"


def test_work_in_progress_at_stop_is_finished_or_failed_after_restart(
    start_server: StartServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = start_server(data, snapshot_extra_seconds=60)
    with client_for(first) as api:
        devbox = running_devbox(api)
        exn = api.post(f"/v1/devboxes/{devbox['id']}/execute_async", json={"command": "sleep 600"})
        snap = api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk_async").json()
        booting = api.post("/v1/devboxes", json={"name": "booting"}).json()
    first.stop()

    second = start_server(data)
    with client_for(second) as api:
        status = api.get(f"/v1/devboxes/disk_snapshots/{snap['id']}/status").json()
        assert status["status"] == "error" and "restarted" in status["error_message"]
        execution = api.get(
            f"/v1/devboxes/{devbox['id']}/executions/{exn.json()['execution_id']}"
        ).json()
        assert (execution["status"], execution["exit_status"]) == ("completed", 143)
        view = api.post(
            f"/v1/devboxes/{booting['id']}/wait_for_status",
            json={"statuses": ["running"], "timeout_seconds": 30},
        ).json()
        assert view["status"] == "running"


def test_generated_token_is_stored_private(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", token=None)
    token_file = tmp_path / "data" / "token"
    assert token_file.read_text().strip() == server.token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    with client_for(server) as api:
        assert api.get("/v1/devboxes").status_code == 200


def test_a_stop_answers_held_long_polls_instead_of_cutting_them(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()
    with client_for(server) as api:
        devbox = running_devbox(api)
        answers: list[object] = []

        def hold() -> None:  # waits for a status the devbox never reaches (held up to 30 s)
            try:
                resp = api.post(
                    f"/v1/devboxes/{devbox['id']}/wait_for_status",
                    json={"statuses": ["shutdown"], "timeout_seconds": 30},
                )
                answers.append(resp.status_code)
            except httpx.HTTPError as error:
                answers.append(type(error).__name__)

        waiter = threading.Thread(target=hold)
        waiter.start()
        while not server.requests_in_progress and waiter.is_alive():
            time.sleep(0.01)  # until the request is in the app (a stop then answers it)
        with caplog.at_level(logging.ERROR):
            server.stop()
        waiter.join()

    assert answers == [408]  # an answer as on a timeout; not cut after the graceful timeout
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
