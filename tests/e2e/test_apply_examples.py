"""Each example manifest, applied by the real `rlstate` and checked the way a user would check it
(with the official SDK), then planned again: nothing left to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apply_support import (
    by_name,
    converged,
    objects,
    read,
    rlstate,
    sdk,
    snapshots,
    summary,
    workdir,
)
from runloop_api_client import Runloop


def check_quickstart(client: Runloop, work: Path) -> None:
    boxes = by_name(client, "quickstart")
    assert set(boxes) == {"hello"}
    hello = boxes["hello"]
    assert hello.status == "running"
    assert read(client, hello.id, "/home/user/out/greeting.txt") == "hello from rlstate\n"
    assert read(client, hello.id, "/home/user/out/python-version.txt").startswith("3.")


def check_object_bootstrap(client: Runloop, work: Path) -> None:
    local = (work / "files" / "app-config.json").read_text()
    (obj,) = objects(client, "object-bootstrap")
    assert obj.state == "READ_ONLY"
    app = by_name(client, "object-bootstrap")["app"]
    assert read(client, app.id, "/home/user/config/app-config.json") == local
    assert read(client, app.id, "/home/user/app/app-config.json") == local


def check_snapshot_and_restore(client: Runloop, work: Path) -> None:
    boxes = by_name(client, "snapshot-restore")
    assert set(boxes) == {"builder", "worker-0", "worker-1", "worker-2"}
    (snap,) = snapshots(client, "snapshot-restore")
    assert client.devboxes.disk_snapshots.query_status(snap.id).status == "complete"
    for name in ("worker-0", "worker-1", "worker-2"):
        worker = boxes[name]
        assert worker.snapshot_id == snap.id
        # Files written by the builder's setup, before the snapshot, are in every replica.
        assert read(client, worker.id, "/home/user/app/BUILD") == "built by setup\n"
        assert read(client, worker.id, "/home/user/app/data.txt") == "42\n"


def check_retention(client: Runloop, work: Path) -> None:
    database = by_name(client, "retention")["database"]
    (snap,) = snapshots(client, "retention")
    assert snap.source_devbox_id == database.id
    assert (snap.metadata or {}).get("rlstate.series") == "nightly"
    assert client.devboxes.disk_snapshots.query_status(snap.id).status == "complete"
    listing = client.devboxes.execute_sync(database.id, command="ls /home/user/db")
    assert "app.sqlite" in listing.stdout


def check_combined(client: Runloop, work: Path) -> None:
    boxes = by_name(client, "combined")
    assert set(boxes) == {"builder", "worker-0", "worker-1"}
    assert len(objects(client, "combined")) == 2
    builder = boxes["builder"]
    assert read(client, builder.id, "/home/user/app/BUILD") == "ok\n"
    config = (work / "files" / "app-config.json").read_text()
    assert read(client, builder.id, "/home/user/config/app-config.json") == config
    assert read(client, builder.id, "/home/user/tools/bin/hello.sh")  # the tgz was unpacked
    for name in ("worker-0", "worker-1"):
        assert read(client, boxes[name].id, "/home/user/app/BUILD") == "ok\n"


def check_blueprints(client: Runloop, work: Path) -> None:
    builds = {
        (b.metadata or {}).get("rlstate.name"): b
        for b in client.blueprints.list(limit=500)
        if (b.metadata or {}).get("rlstate.stack") == "blueprints"
    }
    assert set(builds) == {"tools", "app"}
    assert all(b.status == "build_complete" for b in builds.values())
    web = by_name(client, "blueprints")["web"]
    assert web.blueprint_id == builds["app"].id
    assert read(client, web.id, "/home/user/APP") == "app on tools 2\n"


EXAMPLES: list[tuple[str, Callable[[Runloop, Path], None]]] = [
    ("quickstart.yaml", check_quickstart),
    ("object-bootstrap.yaml", check_object_bootstrap),
    ("snapshot-and-restore.yaml", check_snapshot_and_restore),
    ("retention.yaml", check_retention),
    ("combined.yaml", check_combined),
    ("blueprints.yaml", check_blueprints),
]


@pytest.mark.parametrize(("manifest", "check"), EXAMPLES, ids=[m for m, _ in EXAMPLES])
def test_example_applies_and_then_has_nothing_left_to_do(
    local_server: Any, tmp_path: Path, manifest: str, check: Callable[[Runloop, Path], None]
) -> None:
    work = workdir(tmp_path)
    applied = rlstate(local_server, work, "apply", manifest, "--yes", "--json")

    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert summary(applied.stdout)["result"] == "converged"
    check(sdk(local_server), work)
    assert converged(local_server, work, manifest)


def test_destroy_removes_what_apply_made(local_server: Any, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    assert (
        rlstate(local_server, work, "apply", "snapshot-and-restore.yaml", "--yes").returncode == 0
    )

    destroyed = rlstate(local_server, work, "destroy", "snapshot-and-restore.yaml", "--yes")

    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "Destroy complete" in destroyed.stdout
    client = sdk(local_server)
    assert by_name(client, "snapshot-restore") == {}
    assert snapshots(client, "snapshot-restore") == []


def test_destroy_deletes_the_stacks_blueprint_builds(local_server: Any, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    planned = rlstate(local_server, work, "plan", "blueprints.yaml")
    assert "+ build blueprint.tools (not yet built)" in planned.stdout, planned.stdout
    assert "Plan: 2 to build, 1 to create." in planned.stdout
    assert rlstate(local_server, work, "apply", "blueprints.yaml", "--yes").returncode == 0

    destroyed = rlstate(local_server, work, "destroy", "blueprints.yaml", "--yes")

    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    client = sdk(local_server)
    assert by_name(client, "blueprints") == {}
    left = [
        b.id
        for b in client.blueprints.list(limit=500)
        if (b.metadata or {}).get("rlstate.stack") == "blueprints"
    ]
    assert left == []
