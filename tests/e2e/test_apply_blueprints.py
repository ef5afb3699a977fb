"""Declared blueprints against the local backend: built once, reused while unchanged, rebuilt
(and their devboxes replaced) when changed, failures shown with the build log, `keep` pruning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apply_support import apply_under_faults, by_name, read, sdk, workdir
from blueprint_support import DOCKERFILE, kinds, plan_and_apply, write_stack

from tests.helpers import a_fifth_failing

BUILDS = "POST /v1/blueprints"


def builds_of(server: Any, name: str) -> list[Any]:
    return [
        b
        for b in sdk(server).blueprints.list(limit=500)
        if (b.metadata or {}).get("rlstate.name") == name
    ]


def test_unchanged_blueprints_are_reused_with_no_build_request(
    local_server: Any, tmp_path: Path
) -> None:
    path = write_stack(tmp_path)
    first = plan_and_apply(local_server, path)
    assert first.result is not None and first.result.outcome == "converged"
    assert first.apply_requests[BUILDS] == 2

    again = plan_and_apply(local_server, path)

    assert kinds(again.plan) == []
    assert BUILDS not in again.apply_requests and BUILDS not in again.plan_requests
    assert again.plan_requests["GET /v1/blueprints"] == 1  # one list finds every build
    (app,) = builds_of(local_server, "app")
    web = by_name(sdk(local_server), "bps")["web"]
    assert web.blueprint_id == app.id
    assert read(sdk(local_server), web.id, "/home/user/APP") == "app on tools 1\n"


def test_a_changed_dockerfile_rebuilds_and_replaces_the_devboxes_that_use_it(
    local_server: Any, tmp_path: Path
) -> None:
    plan_and_apply(local_server, write_stack(tmp_path))
    old_web = by_name(sdk(local_server), "bps")["web"]

    dockerfile = DOCKERFILE.replace('"tools $V"', '"tools v$V"')
    changed = plan_and_apply(local_server, write_stack(tmp_path, dockerfile=dockerfile))

    plan = changed.plan
    assert kinds(plan) == [
        ("build", "blueprint.tools"),
        ("build", "blueprint.app"),
        ("replace", "devbox.web"),
    ]
    assert plan.action("build blueprint.tools").reasons == ("changed: dockerfile",)
    assert plan.action("build blueprint.app").depends_on == ("build blueprint.tools",)
    replace = plan.action("replace devbox.web")
    assert replace.reasons == ("forced by blueprint",)
    assert replace.depends_on == ("build blueprint.app",)
    assert changed.result is not None and changed.result.outcome == "converged"
    web = by_name(sdk(local_server), "bps")["web"]
    newest_app = max(builds_of(local_server, "app"), key=lambda b: b.create_time_ms)
    assert web.id != old_web.id and web.blueprint_id == newest_app.id
    assert read(sdk(local_server), web.id, "/home/user/APP") == "app on tools v1\n"


def test_a_failed_build_shows_its_log_tail_and_skips_its_dependants(
    local_server: Any, tmp_path: Path
) -> None:
    path = write_stack(tmp_path)
    text = path.read_text().replace(
        "system_setup_commands: [", "system_setup_commands: ['echo broke-here-42; exit 3', "
    )
    path.write_text(text)

    run = plan_and_apply(local_server, path)

    assert run.result is not None and run.result.outcome != "converged"
    (failed,) = run.result.failed
    assert failed[0] == "build blueprint.app"
    assert "failed" in failed[1] and "broke-here-42" in failed[1]
    assert [s[0] for s in run.result.skipped] == ["create devbox.web"]
    assert by_name(sdk(local_server), "bps") == {}


def test_keep_prunes_old_builds_but_never_one_a_live_devbox_was_created_from(
    local_server: Any, tmp_path: Path
) -> None:
    def stack(version: str) -> Path:
        return write_stack(tmp_path, keep="keep: {last: 1}", ignore_blueprint=True, version=version)

    plan_and_apply(local_server, stack("1"))
    (tools_1,) = builds_of(local_server, "tools")
    (app_1,) = builds_of(local_server, "app")
    # web ignores blueprint changes, so it stays on app_1: app_1 stays, and so does tools_1,
    # which app_1 was built on.
    second = plan_and_apply(local_server, stack("2"))
    assert [a for a in second.plan.actions if a.kind == "prune"] == []
    web = by_name(sdk(local_server), "bps")["web"]
    assert web.blueprint_id == app_1.id
    tools_2 = next(b for b in builds_of(local_server, "tools") if b.id != tools_1.id)
    app_2 = next(b for b in builds_of(local_server, "app") if b.id != app_1.id)

    third = plan_and_apply(local_server, stack("3"))

    prunes = {a.resource_id: a for a in third.plan.actions if a.kind == "prune"}
    assert set(prunes) == {tools_2.id, app_2.id}
    assert prunes[tools_2.id].reasons == ("beyond keep: last 1",)
    # A build goes after this run's build of its blueprint and after the builds made on it.
    assert prunes[tools_2.id].depends_on == (
        "build blueprint.tools",
        f"prune blueprint.app {app_2.id}",
    )
    assert third.result is not None and third.result.outcome == "converged"
    left = {b.id for name in ("tools", "app") for b in builds_of(local_server, name)}
    assert {tools_1.id, app_1.id} <= left and not {tools_2.id, app_2.id} & left
    assert by_name(sdk(local_server), "bps")["web"].id == web.id


def test_builds_are_started_once_while_answers_fail(local_server: Any, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    faults = a_fifth_failing(14, lost_answer_rate=0.1)
    apply_under_faults(local_server, work, "blueprints.yaml", faults)

    stack = [
        (b.metadata or {}).get("rlstate.name")
        for b in sdk(local_server).blueprints.list(limit=500)
        if (b.metadata or {}).get("rlstate.stack") == "blueprints"
    ]
    assert sorted(stack) == ["app", "tools"]


def test_a_stack_without_blueprints_never_lists_them(local_server: Any, tmp_path: Path) -> None:
    path = write_stack(tmp_path)
    text = path.read_text()
    path.write_text(text[: text.index("blueprints:")] + "devboxes:\n  web: {keep_alive: 1h}\n")

    run = plan_and_apply(local_server, path, apply=False)

    assert kinds(run.plan) == [("create", "devbox.web")]
    assert "GET /v1/blueprints" not in run.plan_requests
    assert sum(run.plan_requests.values()) == 3


def test_imported_sdk_builds_are_used_as_they_are_and_kept_when_the_manifest_moves_on(
    local_server: Any, tmp_path: Path
) -> None:
    """Builds the SDK made as the manifest declares them: adopted (no build request, the devbox
    starts from them). Then the definition changes: new builds are made and, although `keep`
    allows one build, the imported ones are not deleted (rlstate did not make them)."""
    client = sdk(local_server)
    build = client.blueprints.create_and_await_build_complete
    tools = build(name="tools", dockerfile=DOCKERFILE, build_args={"V": "1"})
    app = build(
        name="app",
        base_blueprint_id=tools.id,
        system_setup_commands=['echo "app on $(cat /home/user/TOOLS)" > /home/user/APP'],
    )
    imports = f"import:\n  - {{to: blueprint.tools, id: {tools.id}}}\n"
    imports += f"  - {{to: blueprint.app, id: {app.id}}}\n"

    def stack(version: str) -> Path:
        path = write_stack(tmp_path, keep="keep: {last: 1}", version=version)
        path.write_text(path.read_text() + imports)
        return path

    first = plan_and_apply(local_server, stack("1"))

    assert kinds(first.plan) == [
        ("adopt", "blueprint.tools"),
        ("adopt", "blueprint.app"),
        ("create", "devbox.web"),
    ]
    assert BUILDS not in first.apply_requests
    web = by_name(client, "bps")["web"]
    assert web.blueprint_id == app.id
    assert read(client, web.id, "/home/user/APP") == "app on tools 1\n"
    assert kinds(plan_and_apply(local_server, stack("1"), apply=False).plan) == []

    moved = plan_and_apply(local_server, stack("2"))

    tools_build = moved.plan.action("build blueprint.tools")
    assert tools_build.reasons[0].startswith(f"import {tools.id} differs from the manifest in")
    assert [c.field for c in tools_build.changes] == ["build_args"]
    assert moved.result is not None and moved.result.outcome == "converged"
    assert moved.apply_requests[BUILDS] == 2
    assert {client.blueprints.retrieve(b.id).state for b in (tools, app)} == {"created"}
    assert "DELETE" not in " ".join(moved.apply_requests)  # the imported builds least of all
    assert not [a for a in moved.plan.actions if a.resource_id in (tools.id, app.id)]
