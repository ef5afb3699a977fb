"""Arazzo workflows beyond the three seeds (tests/data/arazzo/), run by `arazzo-runner` against the
local server: killed and failing commands, suspend/resume, a shut-down devbox, files, snapshots
found by metadata, objects paged and downloaded, a blueprint build, devbox paging and the error
answers (404, 400 naming the field, 401, 408). Each run's outputs are asserted, every 200 answer is
validated against the OpenAPI description and every error answer must be a JSON `message`.

The workflows reference `../openapi/runloop-*-openapi.yml` like the seeds; they are staged beside
copies of the OpenAPI files whose `servers` point at the local server (skipped without them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from arazzo_runner import ArazzoRunner, WorkflowExecutionStatus
from conformance_support import exchanges_problems, stage_workflows
from localapi_support import run, running_devbox
from openapi_core import OpenAPI
from test_conformance_arazzo import RecordingSession

from tests.conftest import shared_path

WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "arazzo"
COMMANDS = "runloop-local-commands-workflow.yml"
FILES = "runloop-local-files-workflow.yml"
SNAPSHOTS = "runloop-local-snapshots-workflow.yml"
OBJECTS = "runloop-local-objects-workflow.yml"
BLUEPRINTS = "runloop-local-blueprints-workflow.yml"
LISTING = "runloop-local-listing-and-errors-workflow.yml"


@pytest.fixture(scope="module")
def staged(local_server_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stage_workflows(
        WORKFLOWS,
        shared_path("runloop-openapi"),
        local_server_session.url,
        tmp_path_factory.mktemp("arazzo-beyond"),
    )


def run_workflow(
    staged: Path, spec: OpenAPI, file: str, workflow_id: str, inputs: dict[str, Any]
) -> tuple[dict[str, Any], list[int]]:
    """Run one workflow to its end: (workflow outputs, status codes in order). Fails unless it
    completed, every 200 answer matched the spec and every other answer was a JSON message."""
    session = RecordingSession()
    runner = ArazzoRunner.from_arazzo_path(str(staged / file), http_client=session)
    result = runner.execute_workflow(workflow_id, inputs)
    assert result.status == WorkflowExecutionStatus.WORKFLOW_COMPLETE, result.error
    problems = exchanges_problems(spec, session.exchanges)
    assert not problems, "\n".join(problems)
    return dict(result.outputs or {}), [e.status for e in session.exchanges]


def test_every_workflow_references_the_openapi_files_like_the_seeds(staged: Path) -> None:
    files = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    assert files == sorted([COMMANDS, FILES, SNAPSHOTS, OBJECTS, BLUEPRINTS, LISTING])
    for name in files:
        text = (staged / name).read_text(encoding="utf-8")
        assert "url: ../openapi/runloop-" in text, name


def test_kill_a_long_running_command(staged: Path, spec: OpenAPI, local_server: Any) -> None:
    inputs = {"apiToken": local_server.token, "command": "sleep 600"}
    out, codes = run_workflow(staged, spec, COMMANDS, "kill-long-running-command", inputs)
    assert (out["runningStatus"], out["shortWaitStatusCode"]) == ("running", 408)
    assert (out["killedStatus"], out["killedExitStatus"]) == ("completed", 137)
    assert codes.count(408) == 1


@pytest.mark.parametrize(
    ("command", "stdout", "stderr", "exit_status"),
    [
        ("echo out; echo err >&2; exit 3", "out\n", "err\n", 3),
        ("false", "", "", 1),
        ("no-such-command-here", "", None, 127),
    ],
    ids=["exit-3-with-output", "false", "command-not-found"],
)
def test_a_failing_sync_command_reports_its_exit_status(
    staged: Path,
    spec: OpenAPI,
    local_server: Any,
    command: str,
    stdout: str,
    stderr: str | None,
    exit_status: int,
) -> None:
    inputs = {"apiToken": local_server.token, "command": command}
    out, _ = run_workflow(staged, spec, COMMANDS, "failing-sync-command", inputs)
    assert (out["stdout"], out["exitStatus"]) == (stdout, exit_status)
    if stderr is not None:
        assert out["stderr"] == stderr
    else:
        assert "no-such-command-here" in out["stderr"]


def test_suspend_resume_then_execute(staged: Path, spec: OpenAPI, local_server: Any) -> None:
    inputs = {"apiToken": local_server.token, "contents": "kept across suspend\n"}
    out, codes = run_workflow(staged, spec, COMMANDS, "suspend-resume-execute", inputs)
    assert (out["suspendStatus"], out["resumeStatus"]) == ("suspending", "resuming")
    assert out["stdout"] == "kept across suspend\n"
    assert out["refusal"].endswith("commands need a running devbox")
    assert codes.count(400) == 2


def test_operations_on_a_shut_down_devbox(staged: Path, spec: OpenAPI, local_server: Any) -> None:
    out, codes = run_workflow(
        staged, spec, COMMANDS, "shutdown-then-operate", {"apiToken": local_server.token}
    )
    assert (out["status"], out["reason"], out["waitStatus"]) == (
        "shutdown",
        "api_shutdown",
        "shutdown",
    )
    assert isinstance(out["endTime"], int)
    assert codes.count(400) == 5


def test_file_round_trip(staged: Path, spec: OpenAPI, local_server: Any) -> None:
    contents = "héllo\nwörld\n"
    inputs = {"apiToken": local_server.token, "path": "notes/a.txt", "contents": contents}
    out, _ = run_workflow(staged, spec, FILES, "file-round-trip", inputs)
    assert out["readBack"] == contents
    assert out["downloaded"] == contents.encode()
    assert out["uploadedSize"] == f"{len(contents.encode())}\n"


def test_snapshot_tagged_found_restored_and_deleted(
    staged: Path, spec: OpenAPI, api: httpx.Client, local_server: Any
) -> None:
    source = running_devbox(api)
    run(api, source["id"], "echo snapped > state.txt")
    api.post(f"/v1/devboxes/{source['id']}/snapshot_disk", json={"metadata": {"team": "other"}})
    inputs = {"apiToken": local_server.token, "devboxId": source["id"], "team": "infra"}
    out, _ = run_workflow(staged, spec, SNAPSHOTS, "snapshot-tag-find-restore-delete", inputs)
    snapshot_id = out["snapshotId"]
    assert out["team"] == "infra"
    assert out["foundByValue"] == out["foundByIn"] == snapshot_id
    assert out["oldValueTotal"] == 0
    assert out["restoredSnapshotId"] == snapshot_id
    assert out["restoredStdout"] == "snapped\n"
    assert out["statusAfterDelete"] == "deleted"


def test_object_upload_find_page_download_delete(
    staged: Path, spec: OpenAPI, api: httpx.Client, local_server: Any
) -> None:
    token = local_server.token
    older = [
        api.post("/v1/objects", json={"name": f"older-{n}.bin", "content_type": "binary"}).json()
        for n in range(3)
    ]
    created, _ = run_workflow(
        staged,
        spec,
        OBJECTS,
        "create-object",
        {"apiToken": token, "name": "report-2024.txt", "contentType": "text"},
    )
    assert created["state"] == "UPLOADING"
    put = httpx.put(created["uploadUrl"], content=b"quarterly numbers\n")
    assert put.status_code == 200, put.text
    inputs = {
        "apiToken": token,
        "objectId": created["objectId"],
        "namePart": "report-",
        "pageAfter": older[2]["id"],
    }
    out, codes = run_workflow(staged, spec, OBJECTS, "complete-find-download-delete", inputs)
    assert (out["state"], out["size"]) == ("READ_ONLY", len(b"quarterly numbers\n"))
    assert out["foundByName"] == out["foundBySearch"] == created["objectId"]
    assert (out["firstPageHasMore"], out["firstPageTotal"]) == (True, 4)
    assert (out["nextPageFirst"], out["nextPageHasMore"]) == (older[1]["id"], False)
    assert out["deletedState"] == "DELETED"
    assert codes[1] == 409 and codes[-2:] == [404, 400]
    gone = httpx.get(out["downloadUrl"])
    assert gone.status_code == 404


def test_object_download_url_serves_the_bytes(api: httpx.Client) -> None:
    created = api.post("/v1/objects", json={"name": "d/x.tar", "content_type": "tar"}).json()
    httpx.put(created["upload_url"], content=b"\x00tar bytes").raise_for_status()
    api.post(f"/v1/objects/{created['id']}/complete").raise_for_status()
    url = api.get(f"/v1/objects/{created['id']}/download").json()["download_url"]
    got = httpx.get(url)
    assert (got.status_code, got.content) == (200, b"\x00tar bytes")
    assert got.headers["content-type"] == "application/octet-stream"


def test_blueprint_build_then_devbox_by_name(
    staged: Path, spec: OpenAPI, local_server: Any
) -> None:
    inputs = {"apiToken": local_server.token, "name": "arazzo-bp"}
    out, _ = run_workflow(staged, spec, BLUEPRINTS, "blueprint-build-then-devbox", inputs)
    # the runner reads one status and goes on (it never loops back): the build must be done
    assert out["initialStatus"] == "build_complete"
    assert (out["builtStatus"], out["state"]) == ("build_complete", "created")
    assert out["foundByName"] == out["devboxBlueprintId"] == out["blueprintId"]
    assert out["stdout"] == "baked\nbooted\n"


def test_devbox_list_by_status_pages(
    staged: Path, spec: OpenAPI, api: httpx.Client, local_server: Any
) -> None:
    ids = [running_devbox(api, name=f"r{n}")["id"] for n in range(3)]
    api.post(f"/v1/devboxes/{running_devbox(api)['id']}/shutdown").raise_for_status()
    out, _ = run_workflow(
        staged, spec, LISTING, "list-devboxes-by-status", {"apiToken": local_server.token}
    )
    newest_first = ids[::-1]
    assert [out["firstPageFirst"], out["firstPageLast"]] == newest_first[:2]
    assert (out["firstHasMore"], out["total"]) == (True, 3)
    assert (out["secondPageFirst"], out["secondHasMore"]) == (newest_first[2], False)
    assert out["shutdownTotal"] == 1
    assert out["badStatusMessage"].startswith("status: ")


def test_error_answers(staged: Path, spec: OpenAPI, api: httpx.Client, local_server: Any) -> None:
    devbox_id = running_devbox(api)["id"]
    execution = api.post(f"/v1/devboxes/{devbox_id}/execute_async", json={"command": "sleep 60"})
    inputs = {
        "apiToken": local_server.token,
        "devboxId": devbox_id,
        "executionId": execution.json()["execution_id"],
    }
    out, codes = run_workflow(staged, spec, LISTING, "error-answers", inputs)
    assert codes == [404, 404, 404, 400, 400, 400, 401, 408, 408]
    assert out["unknownDevbox"] == "devbox dbx_000000000000000000000 not found"
    assert out["badCreate"].startswith("name: ")
    assert out["badWaitStatus"].startswith("statuses: ")
    assert out["missingCommand"].startswith("command: ")
    assert "token" in out["wrongToken"].lower() and local_server.token not in out["wrongToken"]
    assert "1 s" in out["devboxWaitTimesOut"] and "1 s" in out["executionWaitTimesOut"]
