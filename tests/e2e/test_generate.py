"""`rlstate generate` over an account the official SDK filled (30 devboxes, 200 snapshots,
3 blueprints): the manifest validates, the adopting apply only writes metadata (every request
that reaches the API is counted by a proxy), and the next plan says "No changes."."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from apply_support import by_name, rlstate, sdk, summary
from retain_support import mutating, recording_proxy
from runloop_api_client import Runloop
from runloop_api_client.lib.polling import PollingConfig

from tests.helpers import ApiAt, run_rlstate

FAST = PollingConfig(interval_seconds=0.05, max_attempts=600)
DEVBOXES, SNAPSHOTS, BLUEPRINTS = 30, 200, 3


DOCKERFILE = 'FROM ubuntu:22.04\nARG V=1\nRUN echo "tools $V" > /home/user/TOOLS\n'


def _blueprints(client: Runloop) -> list[Any]:
    """Three builds as a script makes them: a Dockerfile with a build arg, setup commands, and
    a build on the first one (by name)."""
    build = client.blueprints.create_and_await_build_complete
    tools = build(name="base-0", dockerfile=DOCKERFILE, build_args={"V": "2"}, polling_config=FAST)
    setup = build(
        name="base-1", system_setup_commands=["echo one > /home/user/ONE"], polling_config=FAST
    )
    app = build(
        name="base-2",
        base_blueprint_name="base-0",
        system_setup_commands=["cat /home/user/TOOLS > /home/user/APP"],
        polling_config=FAST,
    )
    return [tools, setup, app]


def _fill(client: Runloop) -> tuple[dict[str, Any], list[Any]]:
    """Blueprints, devboxes from them (two suspended, some unnamed-safe names), snapshots."""
    blueprints = _blueprints(client)
    boxes = {}
    for i in range(DEVBOXES):
        box = client.devboxes.create_and_await_running(
            name=f"Svc {i}" if i == 7 else f"svc-{i}",  # "Svc 7" is no manifest name
            blueprint_id=blueprints[i % BLUEPRINTS].id,
            metadata={"team": f"t{i % 3}"},
            launch_parameters={"resource_size_request": "MEDIUM"} if i % 5 == 0 else None,
        )
        boxes[box.id] = box
    ids = list(boxes)
    for n in range(SNAPSHOTS):
        client.devboxes.snapshot_disk(ids[n % 20], name=f"manual-{n}")
    for box_id in ids[-2:]:
        client.devboxes.suspend(box_id)
        client.devboxes.await_suspended(box_id, polling_config=FAST)
    return boxes, blueprints


def test_generate_then_adopt_then_no_changes(local_server: Any, tmp_path: Path) -> None:
    client = sdk(local_server)
    boxes, blueprints = _fill(client)
    other = tmp_path / "other"
    other.mkdir()
    (other / "rlstate.yaml").write_text("version: 1\nstack: other\ndevboxes:\n  web: {}\n")
    assert rlstate(local_server, other, "apply", "--yes", "rlstate.yaml").returncode == 0
    work = tmp_path / "w"
    work.mkdir()

    made = rlstate(local_server, work, "generate", "--stack", "onboard")
    assert made.returncode == 0, made.stderr
    (work / "rlstate.yaml").write_text(made.stdout)
    checked = run_rlstate(["validate"], cwd=work)
    assert checked.returncode == 0, checked.stdout + made.stdout
    doc = yaml.safe_load(made.stdout)
    assert len(doc["devboxes"]) == DEVBOXES and len(doc["snapshots"]) == 20
    assert sum(s["keep"]["last"] for s in doc["snapshots"].values()) == SNAPSHOTS
    assert len(doc["import"]) == DEVBOXES + 20 + BLUEPRINTS
    assert doc["devboxes"]["svc-7"]["blueprint"] == "base-1"
    assert doc["blueprints"] == {
        "base-0": {"dockerfile": DOCKERFILE, "build_args": {"V": "2"}},
        "base-1": {"system_setup_commands": ["echo one > /home/user/ONE"]},
        "base-2": {
            "base": "base-0",
            "system_setup_commands": ["cat /home/user/TOOLS > /home/user/APP"],
        },
    }
    assert {"to": "blueprint.base-2", "id": blueprints[2].id} in doc["import"]
    assert doc["devboxes"]["svc-0"]["resource_size"] == "MEDIUM"
    assert made.stdout.count("# env, setup, mounts: not readable from the API") == DEVBOXES
    assert "stack 'other' manages it" in made.stdout  # another stack's devbox is left out

    with recording_proxy(local_server.url) as (url, log):
        api = ApiAt(url, local_server.token)
        applied = rlstate(api, work, "apply", "--yes", "--json", "-p", "20", "rlstate.yaml")
        assert applied.returncode == 0, applied.stderr
        writes = mutating(log.take())
        again = rlstate(api, work, "plan", "--detailed-exitcode")
    result = summary(applied.stdout)
    assert (result["done"], result["failed"]) == (BLUEPRINTS + DEVBOXES + SNAPSHOTS, 0)
    kinds = {e["kind"] for e in map(json.loads, applied.stdout.splitlines()) if "kind" in e}
    assert kinds == {"adopt"}
    assert not [w for w in writes if w[1].startswith("/v1/blueprints")]  # adopted, not built
    devbox_updates = [w for w in writes if w[1] in {f"/v1/devboxes/{i}" for i in boxes}]
    snapshot_updates = [w for w in writes if w[1].startswith("/v1/devboxes/disk_snapshots/snp_")]
    assert (len(devbox_updates), len(snapshot_updates)) == (DEVBOXES, SNAPSHOTS)
    assert len(writes) == DEVBOXES + SNAPSHOTS  # metadata updates and nothing else
    assert again.returncode == 0, again.stdout
    assert "No changes." in again.stdout
    assert f"blueprint.base-2 is {blueprints[2].id}, adopted" in again.stdout
    mine = by_name(client, "onboard")
    assert {d.id for d in mine.values()} == set(boxes)
    assert mine["svc-7"].name == "svc-7"  # renamed in the same update


def test_generate_filters_by_name_metadata_and_status(local_server: Any, tmp_path: Path) -> None:
    client = sdk(local_server)
    for i in range(4):
        client.devboxes.create_and_await_running(name=f"job-{i}", metadata={"team": f"t{i % 2}"})
    client.devboxes.create_and_await_running(name="db", metadata={"team": "t0"})
    args = ["generate", "--devbox", "job-*", "--metadata", "team=t0", "--status", "running"]

    made = rlstate(local_server, tmp_path, *args)

    assert made.returncode == 0, made.stderr
    assert sorted(yaml.safe_load(made.stdout)["devboxes"]) == ["job-0", "job-2"]
    bad = rlstate(local_server, tmp_path, "generate", "--metadata", "team")
    assert bad.returncode == 1 and "expected KEY=VALUE" in bad.stderr
