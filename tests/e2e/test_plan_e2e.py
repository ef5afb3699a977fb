"""`rlstate plan` and `rlstate status` end to end: the real CLI in a subprocess against the local
backend, with the stack built through the official SDK next to resources it does not own.

What the spec promises and these check: drift is planned exactly (create what is missing,
delete what the manifest no longer names, prune by keep), resources without the stack's marks
never appear in a plan and are untouched by apply; exit codes 0/2/1 with --detailed-exitcode;
--json is one document; the plan file is written and holds no key or secret; a converged stack
plans "No changes." with no mutating request at all.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from plan_support import (
    SECRET,
    STACK,
    Shop,
    inventory,
    load_shop,
    make_strangers,
    run,
    sdk,
    write_shop,
)

from reconcile.api.client import RunloopClient
from reconcile.commands.common import make_plan
from reconcile.manifest import LoadedManifest
from reconcile.plan.model import FORMAT_VERSION, Plan


@pytest.fixture
def drifted(local_server: Any, tmp_path: Path) -> dict[str, Any]:
    """The shop with drift (web missing, a leftover devbox, three nightlies) and strangers."""
    path = write_shop(tmp_path / "shop")
    shop = Shop(sdk(local_server), load_shop(path))
    shop.object("tool")
    shop.devbox("api")
    nightlies = [shop.snapshot("nightly", "devbox.api") for _ in range(3)]
    for n in (0, 1):
        shop.devbox(f"worker-{n}", snapshot_id=nightlies[-1])
    old = shop.leftover_devbox("old")
    strangers = make_strangers(shop.client, shop)
    return {
        "path": path,
        "shop": shop,
        "old": old,
        "nightlies": nightlies,
        "strangers": strangers,
        "before": inventory(shop.client, strangers.ids),
    }


def plan_in_process(server: Any, loaded: LoadedManifest) -> tuple[Plan, dict[str, int]]:
    """The plan `rlstate plan` makes, and the requests it took by route."""

    async def go() -> tuple[Plan, dict[str, int]]:
        async with RunloopClient(server.url, server.token) as client:
            plan = await make_plan(client, loaded, datetime.now(UTC))
            return plan, dict(client.stats.by_route)

    return asyncio.run(go())


def test_drift_is_planned_exactly_and_strangers_never_appear(
    local_server: Any, drifted: dict[str, Any]
) -> None:
    path: Path = drifted["path"]
    result = run(local_server, path.parent, "plan", path.name, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    actions = {(a["kind"], a["address"], a["resource_id"]) for a in document["actions"]}
    assert actions == {
        ("create", "devbox.web", None),
        ("delete", "devbox.old", drifted["old"]),
        ("prune", "snapshot.nightly", drifted["nightlies"][0]),
    }
    assert document["summary"]["changes"] is True
    for stranger in drifted["strangers"].ids:
        assert stranger not in result.stdout
    rows = {r["snapshot_id"]: r for r in document["retention"]}
    assert sorted(rows) == sorted(drifted["nightlies"])
    assert rows[drifted["nightlies"][-1]]["reasons"][:2] == ["last 1/2", "newest complete"]
    assert inventory(drifted["shop"].client, drifted["strangers"].ids) == drifted["before"]


def test_plan_text_exit_codes_and_plan_file(local_server: Any, drifted: dict[str, Any]) -> None:
    path: Path = drifted["path"]
    work = path.parent
    text = run(local_server, work, "plan", path.name)
    assert text.returncode == 0, text.stderr
    assert "  + create devbox.web (not yet created)" in text.stdout
    assert f"  - delete devbox.old ({drifted['old']}) (not in manifest)" in text.stdout
    assert f"  x prune snapshot.nightly {drifted['nightlies'][0]} (" in text.stdout
    assert "Plan: 1 to create, 1 to delete, 1 to prune." in text.stdout
    assert run(local_server, work, "plan", path.name, "--detailed-exitcode").returncode == 2

    saved = work / ".rlstate" / "plan.json"
    plan = Plan.from_json(saved.read_text())
    assert (plan.stack, plan.has_changes, plan.format_version) == (STACK, True, FORMAT_VERSION)
    assert run(local_server, work, "plan", path.name, "--out", "elsewhere.json").returncode == 0
    assert Plan.from_json((work / "elsewhere.json").read_text()).stack == STACK
    for secret in (local_server.token, SECRET):
        for output in (text.stdout, text.stderr, saved.read_text()):
            assert secret not in output


def test_errors_exit_1_with_one_line_and_no_key(local_server: Any, tmp_path: Path) -> None:
    path = write_shop(tmp_path / "shop")
    wrong_key = run(local_server, path.parent, "plan", "--detailed-exitcode", key="rl_wrong_KEY_1")
    assert wrong_key.returncode == 1
    assert "rl_wrong_KEY_1" not in wrong_key.stdout + wrong_key.stderr
    assert "Traceback" not in wrong_key.stderr and wrong_key.stderr.strip()
    (path.parent / "bad.yaml").write_text("version: 1\nstack: shop\ndevboxes: {a: {size: 1}}\n")
    bad = run(local_server, path.parent, "plan", "bad.yaml", "--detailed-exitcode")
    assert bad.returncode == 1 and "bad.yaml:3:" in bad.stderr
    assert not (path.parent / ".rlstate" / "plan.json").exists()


def test_after_apply_the_plan_is_empty_and_reads_only(
    local_server: Any, drifted: dict[str, Any]
) -> None:
    path: Path = drifted["path"]
    applied = run(local_server, path.parent, "apply", path.name, "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert inventory(drifted["shop"].client, drifted["strangers"].ids) == drifted["before"]

    again = run(local_server, path.parent, "plan", path.name, "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout
    plan, requests = plan_in_process(local_server, drifted["shop"].loaded)
    assert not plan.has_changes
    assert [route for route in requests if not route.startswith("GET ")] == []
    lists = {route: n for route, n in requests.items() if "{" not in route}
    assert lists == {
        "GET /v1/devboxes": 1,
        "GET /v1/objects": 1,
        "GET /v1/devboxes/disk_snapshots": 1,
    }
    # The newest snapshot's status decides `every` and what workers restore from; apply read it
    # complete and stamped it so, and the plan needs no read at all.
    assert "GET /v1/devboxes/disk_snapshots/{id}/status" not in requests


def test_sdk_built_stack_is_converged_and_status_shows_it(
    local_server: Any, tmp_path: Path
) -> None:
    path = write_shop(tmp_path / "shop")
    shop = Shop(sdk(local_server), load_shop(path))
    shop.converged()

    plan, requests = plan_in_process(local_server, shop.loaded)
    assert plan.actions == (), [a.id for a in plan.actions]
    assert [route for route in requests if not route.startswith("GET ")] == []
    assert run(local_server, path.parent, "plan", "--detailed-exitcode").returncode == 0

    status = run(local_server, path.parent, "status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"Stack {STACK}: in sync")
    for address in ("devbox.api", "devbox.web", "devbox.worker-0", "devbox.worker-1"):
        line = next(x for x in status.stdout.splitlines() if x.strip().startswith(address + " "))
        assert shop.ids[address] in line and "running" in line and "drift" not in line
    assert "snapshot.nightly" in status.stdout and "1 snapshot, newest complete" in status.stdout
    report = json.loads(run(local_server, path.parent, "status", "--json").stdout)
    assert report["in_sync"] is True
    nightly = report["series"]["snapshot.nightly"]
    assert nightly["newest_complete"] == shop.ids["snapshot.nightly"]
    assert 0 <= nightly["newest_complete_age_seconds"] < 600


def test_status_marks_drift(local_server: Any, drifted: dict[str, Any]) -> None:
    path: Path = drifted["path"]
    status = run(local_server, path.parent, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == f"Stack {STACK}: drifted"

    def line(address: str) -> str:
        return next(x for x in lines if x.strip().startswith(address + " "))

    assert drifted["old"] in line("devbox.old") and line("devbox.old").endswith("(drift: delete)")
    assert line("devbox.web").endswith("absent  (drift: create)")
    assert "drift" not in line("devbox.api") and "drift" not in line("object.tool")
    # keep: {last: 2} of three: the series is drifted too, and says how.
    assert "3 snapshots, newest complete" in line("snapshot.nightly")
    assert line("snapshot.nightly").endswith("(drift: prune)")
    report = json.loads(run(local_server, path.parent, "status", "--json").stdout)
    assert report["series"]["snapshot.nightly"]["drift"] == "prune"
    for stranger in drifted["strangers"].ids:
        assert stranger not in status.stdout
