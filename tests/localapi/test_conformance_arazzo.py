"""The three Runloop Arazzo workflows, unchanged, run by the third-party `arazzo-runner` against the
local server; their outputs checked, and every answer the runner got validated against the spec.

The workflows and the OpenAPI files they reference (`../openapi/runloop-*-openapi.yml`) are staged
side by side in a temp dir, each OpenAPI copy's `servers` pointing at the local server. The runner
only checks `$statusCode == 200` and does not follow onSuccess branches (it runs each step once), so
the tests assert what each workflow is for: the command's output, `running` after the single wait,
a `complete` snapshot at the first status poll, a READ_ONLY object downloaded inside the devbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests
import yaml
from arazzo_runner import ArazzoRunner, WorkflowExecutionStatus
from conformance_support import (
    Exchange,
    referenced_specs,
    response_problems,
    stage_workflows,
)
from localapi_support import run, running_devbox
from openapi_core import OpenAPI

from tests.conftest import shared_path

PROVISION = "runloop-ai-provision-and-run-command-workflow.yml"
SNAPSHOT = "runloop-ai-snapshot-and-restore-devbox-workflow.yml"
BOOTSTRAP = "runloop-ai-bootstrap-devbox-from-object-workflow.yml"


@pytest.fixture(scope="module")
def staged(local_server_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    seeds = shared_path("seeds")
    return stage_workflows(
        seeds,
        shared_path("runloop-openapi"),
        local_server_session.url,
        tmp_path_factory.mktemp("arazzo"),
    )


class RecordingSession(requests.Session):
    """The runner's HTTP client: a plain requests session that keeps every exchange."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[Exchange] = []
        self.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        request = response.request
        url = urlsplit(str(request.url))
        body = request.body or b""
        self.exchanges.append(
            Exchange(
                method=str(request.method),
                path=url.path,
                query=list(httpx.QueryParams(url.query).multi_items()),
                request_body=body.encode() if isinstance(body, str) else bytes(body),
                request_content_type=request.headers.get("content-type", ""),
                status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                headers=dict(response.headers),
                body=response.content,
            )
        )


def run_workflow(
    staged: Path, spec: OpenAPI, file: str, workflow_id: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    """Run one workflow to its end; returns its step outputs plus `outputs` (workflow outputs).
    Fails unless the runner completed it and every answer matched the spec."""
    session = RecordingSession()
    runner = ArazzoRunner.from_arazzo_path(str(staged / file), http_client=session)
    result = runner.execute_workflow(workflow_id, inputs)
    assert result.status == WorkflowExecutionStatus.WORKFLOW_COMPLETE, result.error
    problems = [
        f"{e.label()}: {p}"
        for e in session.exchanges
        if e.status == 200
        for p in response_problems(spec, e)
    ]
    assert not problems, "\n".join(problems)
    assert [e.status for e in session.exchanges] == [200] * len(session.exchanges)
    return {**(result.step_outputs or {}), "outputs": result.outputs}


def test_staging_keeps_the_workflows_and_points_their_specs_here(
    staged: Path, local_server: Any
) -> None:
    seeds = shared_path("seeds")
    for workflow in (PROVISION, SNAPSHOT, BOOTSTRAP):
        assert (staged / workflow).read_bytes() == (seeds / workflow).read_bytes()
        specs = referenced_specs(staged / workflow)
        assert specs and all(f.parent == staged.parent / "openapi" for f in specs)
        for spec_file in specs:
            copy = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
            assert copy["servers"] == [{"url": local_server.url}]


@pytest.mark.parametrize(
    ("command", "stdout", "exit_status"),
    [
        ("echo hello", "hello\n", 0),
        ("printf 'a\\nb\\n'; echo oops >&2; exit 3", "a\nb\n", 3),
    ],
    ids=["succeeds", "fails-with-status-3"],
)
def test_provision_and_run_command(
    staged: Path, spec: OpenAPI, api: httpx.Client, command: str, stdout: str, exit_status: int
) -> None:
    steps = run_workflow(
        staged,
        spec,
        PROVISION,
        "provision-and-run-command",
        {"apiToken": api.headers["Authorization"].split()[1], "command": command},
    )
    assert steps["createDevbox"]["initialStatus"] == "provisioning"
    assert steps["waitUntilRunning"]["status"] == "running"
    assert steps["waitForCompletion"]["finalStatus"] == "completed"
    outputs = steps["outputs"]
    assert (outputs["stdout"], outputs["exitStatus"]) == (stdout, exit_status)
    devbox = api.get(f"/v1/devboxes/{outputs['devboxId']}").json()
    assert devbox["status"] == "running" and "name" not in devbox  # null name: no name


@pytest.mark.parametrize(
    "names",
    [
        {"snapshotName": "golden", "commitMessage": "before upgrade", "restoredName": "copy"},
        {},
    ],
    ids=["named", "optional-inputs-null"],
)
def test_snapshot_and_restore(
    staged: Path, spec: OpenAPI, api: httpx.Client, names: dict[str, str]
) -> None:
    source = running_devbox(api, name="source")
    run(api, source["id"], "echo 'kept by the snapshot' > state.txt")
    token = api.headers["Authorization"].split()[1]
    steps = run_workflow(
        staged,
        spec,
        SNAPSHOT,
        "snapshot-and-restore-devbox",
        {"apiToken": token, "devboxId": source["id"], **names},
    )
    assert steps["pollSnapshot"]["snapshotStatus"] == "complete"  # the first, single poll
    outputs = steps["outputs"]
    assert outputs["restoredStatus"] == "running"
    status = api.get(f"/v1/devboxes/disk_snapshots/{outputs['snapshotId']}/status").json()
    assert status["status"] == "complete"
    assert status["snapshot"].get("name") == names.get("snapshotName")
    assert status["snapshot"].get("commit_message") == names.get("commitMessage")
    restored = api.get(f"/v1/devboxes/{outputs['restoredDevboxId']}").json()
    assert restored["snapshot_id"] == outputs["snapshotId"]
    assert restored.get("name") == names.get("restoredName")
    assert run(api, restored["id"], "cat state.txt")["stdout"] == "kept by the snapshot\n"


def test_a_slow_snapshot_is_reported_in_progress_and_the_restore_still_waits_for_it(
    staged: Path, spec: OpenAPI, api: httpx.Client, local_server: Any
) -> None:
    """The first poll must tell the truth: a capture that cannot be done yet says in_progress."""
    source = running_devbox(api)
    run(api, source["id"], "echo slow > state.txt")
    local_server.control("/_local/speed", {"snapshot_extra_seconds": 2.5})
    try:
        steps = run_workflow(
            staged,
            spec,
            SNAPSHOT,
            "snapshot-and-restore-devbox",
            {"apiToken": local_server.token, "devboxId": source["id"]},
        )
    finally:
        local_server.control("/_local/speed", {"snapshot_extra_seconds": 0})
    assert steps["pollSnapshot"]["snapshotStatus"] == "in_progress"
    outputs = steps["outputs"]
    assert outputs["restoredStatus"] == "running"  # provisioning waited for the capture
    assert run(api, outputs["restoredDevboxId"], "cat state.txt")["stdout"] == "slow\n"


def _intended_command(staged: Path, values: dict[str, str]) -> str:
    """The download step's command with its expressions filled in by hand."""
    doc = yaml.safe_load((staged / BOOTSTRAP).read_text(encoding="utf-8"))
    (step,) = [s for s in doc["workflows"][0]["steps"] if s["stepId"] == "downloadArtifact"]
    command: str = step["requestBody"]["payload"]["command"]
    for expression, value in values.items():
        command = command.replace(expression, value)
    return command


def test_bootstrap_devbox_from_object(staged: Path, spec: OpenAPI, api: httpx.Client) -> None:
    """The workflow writes its expressions bare inside the command string ('$steps...'); Arazzo
    only substitutes embedded expressions written `{$...}`, so a conforming runner sends them
    literally and curl refuses the URL (exit 3). The command as meant is then run by hand."""
    target = "/home/user/artifact.txt"  # curl -o makes no folders
    steps = run_workflow(
        staged,
        spec,
        BOOTSTRAP,
        "bootstrap-devbox-from-object",
        {
            "apiToken": api.headers["Authorization"].split()[1],
            "objectName": "artifact.txt",
            "contentType": "text",
            "targetPath": target,
            "devboxName": "bootstrapped",
        },
    )
    assert steps["completeUpload"]["state"] == "READ_ONLY"  # completed without any upload
    outputs = steps["outputs"]
    obj = api.get(f"/v1/objects/{outputs['objectId']}").json()
    assert (obj["state"], obj["size_bytes"]) == ("READ_ONLY", 0)
    assert steps["waitUntilRunning"]["status"] == "running"
    assert steps["downloadArtifact"]["execStatus"] == "completed"
    devbox_id = outputs["devboxId"]
    sent = api.get(f"/v1/devboxes/{devbox_id}/executions/{outputs['executionId']}").json()
    assert (sent["exit_status"], sent["stderr"]) == (
        3,
        "curl: (3) URL using bad/illegal format or missing URL\n",
    ), "the runner now fills in bare expressions: expect exit 0 and the file, drop this"

    meant = _intended_command(
        staged,
        {
            "$steps.getDownloadUrl.outputs.downloadUrl": outputs["downloadUrl"],
            "$inputs.targetPath": target,
        },
    )
    assert meant.startswith("curl -fsSL 'http://127.0.0.1:")
    reply = api.post(
        f"/v1/devboxes/{devbox_id}/execute", json={"command": meant, "command_id": "by-hand"}
    )
    assert (reply.json()["status"], reply.json()["exit_status"]) == ("completed", 0), reply.text
    check = run(api, devbox_id, f"stat -c '%s %U' {target}")
    assert check["stdout"] == "0 user\n"
