"""Each operation against the real local backend: what it leaves behind and what it costs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from executor_support import (
    devbox,
    obj,
    plan_of,
    prune,
    run_plan,
    shell,
    simple,
    stack_devboxes,
    with_client,
)

from reconcile.api import RunloopClient
from reconcile.apply.placeholders import PlaceholderError


def _file(tmp_path: Path, text: str) -> tuple[str, str, int]:
    path = tmp_path / "tool.txt"
    path.write_text(text)
    data = path.read_bytes()
    return str(path), hashlib.sha256(data).hexdigest(), len(data)


def test_create_without_setup_is_ready_from_its_create_call(local_server: Any) -> None:
    run = run_plan(local_server, plan_of(*(devbox(f"b{n}") for n in range(3))))

    assert run.result.outcome == "converged"
    boxes = stack_devboxes(local_server)
    assert {b.status for b in boxes} == {"running"}
    assert {b.metadata["rlstate.ready"] for b in boxes} == {"true"}
    assert all(b.metadata.get("rlstate.token") for b in boxes)
    # One create and one long-poll per devbox; no metadata update needed.
    assert run.by_route == {"POST /v1/devboxes": 3, "POST /v1/devboxes/{id}/wait_for_status": 3}


def test_create_with_setup_runs_it_then_marks_ready(local_server: Any) -> None:
    plan = plan_of(
        devbox("builder", setup=["echo one > /home/user/a.txt", "cat a.txt a.txt > b.txt"])
    )
    run = run_plan(local_server, plan)

    assert run.result.outcome == "converged", run.result.failed
    (box,) = stack_devboxes(local_server)
    assert run.result.results == {"devbox:devbox.builder": box.id}
    assert box.metadata["rlstate.ready"] == "true"
    assert shell(local_server, box.id, "cat /home/user/b.txt") == "one\none\n"
    assert "has been created" in run.order_messages("done")[0]


class RecordingTransport(httpx.AsyncBaseTransport):
    """A real transport that keeps the JSON body of every request it sends, by path."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.bodies: list[tuple[str, str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.bodies.append((request.method, request.url.path, body))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_marking_a_devbox_ready_sends_its_name_with_the_metadata(local_server: Any) -> None:
    """The API spec makes a devbox update replace name and metadata both (the SDKs document a
    patch): the update that marks a set-up devbox ready must not leave its name out."""
    transport = RecordingTransport()
    run = run_plan(local_server, plan_of(devbox("builder", setup=["true"])), transport=transport)

    assert run.result.outcome == "converged", run.result.failed
    (box,) = stack_devboxes(local_server)
    updates = [b for m, p, b in transport.bodies if m == "POST" and p == f"/v1/devboxes/{box.id}"]
    assert updates == [{"name": "builder", "metadata": box.metadata}]
    assert box.name == "builder"


def test_state_suspended_ends_suspended(local_server: Any) -> None:
    run = run_plan(local_server, plan_of(devbox("sleepy", state="suspended")))
    assert run.result.outcome == "converged"
    (box,) = stack_devboxes(local_server)
    assert box.status == "suspended"


def test_object_bytes_are_at_the_mount_path_of_a_devbox_that_mounts_it(
    local_server: Any, tmp_path: Path
) -> None:
    path, sha, size = _file(tmp_path, "toolchain v1\n")
    mount = {
        "type": "object_mount",
        "object_id": "${object:tool}",
        "object_path": "/home/user/tool.txt",
    }
    plan = plan_of(
        obj("tool", path, sha, size),
        devbox("user", body={"mounts": [mount]}, deps=["create object.tool"]),
    )
    run = run_plan(local_server, plan)

    assert run.result.outcome == "converged", run.result.failed
    object_id = run.result.results["object:tool"]

    async def check(client: RunloopClient) -> str:
        return (await client.get_object(object_id)).state

    assert with_client(local_server, check) == "READ_ONLY"
    (box,) = stack_devboxes(local_server)
    assert shell(local_server, box.id, "cat /home/user/tool.txt") == "toolchain v1\n"


def test_an_object_file_changed_since_the_plan_is_not_uploaded(
    local_server: Any, tmp_path: Path
) -> None:
    path, sha, size = _file(tmp_path, "planned\n")
    Path(path).write_text("edited after planning\n")
    run = run_plan(local_server, plan_of(obj("tool", path, sha, size)))

    ((_failed_id, reason),) = run.result.failed
    assert "changed since the plan was made" in reason

    async def objects(client: RunloopClient) -> list[Any]:
        return await client.list_objects()

    assert with_client(local_server, objects) == []


def test_env_placeholders_reach_the_devbox_and_never_the_events(local_server: Any) -> None:
    secret = "hunter2-very-secret"
    body = {"environment_variables": {"TOKEN": "${env:CI_TOKEN}"}}
    plan = plan_of(devbox("env", body=body, setup=['test "$TOKEN" = hunter2-very-secret']))
    run = run_plan(local_server, plan, environ={"CI_TOKEN": secret})

    assert run.result.outcome == "converged", run.result.failed
    assert secret not in json.dumps([e.to_json() for e in run.events])


def test_a_missing_environment_variable_fails_the_action_clearly(local_server: Any) -> None:
    body = {"environment_variables": {"TOKEN": "${env:NOT_SET_ANYWHERE}"}}
    plan = plan_of(devbox("env", body=body), devbox("after", deps=["create devbox.env"]))
    run = run_plan(local_server, plan, environ={})

    ((failed_id, reason),) = run.result.failed
    assert (
        reason
        == "environment variable NOT_SET_ANYWHERE is not set (needed as ${env:NOT_SET_ANYWHERE})"
    )
    assert isinstance(run.result.errors[failed_id], PlaceholderError)
    assert run.result.skipped == (("create devbox.after", "not run: 'create devbox.env' failed"),)
    assert stack_devboxes(local_server) == []


def _one_running(server: Any, name: str) -> str:
    run = run_plan(server, plan_of(devbox(name, setup=["echo before > /home/user/mark.txt"])))
    assert run.result.outcome == "converged"
    return run.result.results[f"devbox:devbox.{name}"]


def test_replace_readies_the_new_one_snapshots_then_shuts_down_the_old(local_server: Any) -> None:
    old = _one_running(local_server, "app")
    final = {"series": "last", "name": "app-final", "metadata": {"rlstate.stack": "exec-test"}}
    action = devbox("app", kind="replace", old_id=old, final_snapshot=final)
    run = run_plan(local_server, plan_of(action))

    assert run.result.outcome == "converged", run.result.failed
    new = run.result.results["devbox:devbox.app"]

    async def state(client: RunloopClient) -> tuple[str, str, list[Any]]:
        snaps = await client.list_snapshots(devbox_id=old)
        return (await client.get_devbox(old)).status, (await client.get_devbox(new)).status, snaps

    old_status, new_status, snaps = with_client(local_server, state)
    assert (old_status, new_status) == ("shutdown", "running")
    assert [s.name for s in snaps] == ["app-final"]
    assert f"{new} replaces {old}" in run.order_messages("done")[0]


def test_update_suspend_resume_and_delete_in_sequence(local_server: Any) -> None:
    box = _one_running(local_server, "life")
    meta = {"rlstate.stack": "exec-test", "rlstate.name": "life", "team": "infra"}
    steps = [
        (simple("update", "devbox", "devbox.life", box, name="renamed", metadata=meta), "running"),
        (simple("suspend", "devbox", "devbox.life", box), "suspended"),
        (simple("resume", "devbox", "devbox.life", box), "running"),
        (simple("delete", "devbox", "devbox.life", box, final_snapshot=None), "shutdown"),
    ]
    for action, status in steps:
        run = run_plan(local_server, plan_of(action))
        assert run.result.outcome == "converged", (action.kind, run.result.failed)

        async def look(client: RunloopClient) -> Any:
            return await client.get_devbox(box)

        view = with_client(local_server, look)
        assert view.status == status, action.kind
    assert (view.name, view.metadata) == ("renamed", meta)


def test_deleting_what_is_already_gone_counts_as_done(local_server: Any) -> None:
    box = _one_running(local_server, "gone")
    plan = plan_of(
        simple("delete", "devbox", "devbox.gone", box, final_snapshot=None),
        prune("golden", "snp_0000000000000000000000"),
        simple("delete", "object", "object.old", "obj_0000000000000000000000"),
    )
    first = run_plan(local_server, plan)
    again = run_plan(local_server, plan)
    assert first.result.outcome == again.result.outcome == "converged"
