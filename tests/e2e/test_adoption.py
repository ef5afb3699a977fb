"""Adoption on the real local backend: resources made by the official SDK (and by another
stack) are brought under a manifest by `import:` entries, stamped in place, never recreated."""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path
from typing import Any

import httpx
from apply_support import by_name, converged, rlstate, sdk, start, summary
from runloop_api_client import Runloop

DATA = b"shared settings\n"


def _account(client: Runloop, snapshots: int = 3) -> tuple[Any, list[str], Any]:
    """A running devbox with `snapshots` disk snapshots and an object, all made by the SDK."""
    box = client.devboxes.create_and_await_running(name="api", metadata={"team": "core"})
    snaps = [client.devboxes.snapshot_disk(box.id, name=f"manual-{i}").id for i in range(snapshots)]
    obj = client.objects.create(name="settings.txt", content_type="text")
    httpx.put(obj.upload_url or "", content=DATA).raise_for_status()
    client.objects.complete(obj.id)
    return box, snaps, obj


def _manifest(tmp_path: Path, box: str, obj: str, *, size: str = "", keep: int = 2) -> Path:
    """The stack's folder (`w` under tmp_path): its rlstate.yaml imports `box`, its snapshots
    and `obj`, whose bytes settings.txt holds."""
    work = tmp_path / "w"
    work.mkdir(exist_ok=True)
    (work / "settings.txt").write_bytes(DATA)
    extra = f"\n    resource_size: {size}" if size else ""
    text = f"""version: 1
stack: adopt
objects:
  settings: {{path: settings.txt, content_type: text}}
devboxes:
  api:
    metadata: {{team: core}}
    env: {{MODE: prod}}{extra}
snapshots:
  nightly: {{devbox: api, keep: {{last: {keep}}}}}
import:
  - {{to: devbox.api, id: {box}}}
  - {{to: snapshot.nightly, devbox: {box}}}
  - {{to: object.settings, id: {obj}}}
"""
    (work / "rlstate.yaml").write_text(text)
    return work


def test_adopting_stamps_in_place_and_retention_applies_on_the_next_night(
    local_server: Any, tmp_path: Path
) -> None:
    client = sdk(local_server)
    box, snaps, obj = _account(client)
    work = _manifest(tmp_path, box.id, obj.id)

    plan = rlstate(local_server, work, "plan")
    assert plan.returncode == 0, plan.stderr
    assert f"  = adopt devbox.api ({box.id})" in plan.stdout
    assert "not compared: env, mounts, setup" in plan.stdout
    assert all(f"= adopt snapshot.nightly ({s})" in plan.stdout for s in snaps)
    assert f"object.settings is {obj.id}, adopted by content" in plan.stdout
    assert "Plan: 4 to adopt." in plan.stdout

    early = rlstate(local_server, work, "retain", "rlstate.yaml", "--json")  # before adopting
    assert early.returncode == 0, early.stderr
    assert summary(early.stdout)["pruned"] == 0  # not the series' until an apply adopts them

    applied = rlstate(local_server, work, "apply", "--json")
    assert applied.returncode == 0, applied.stderr
    done = summary(applied.stdout)
    assert (done["done"], done["failed"]) == (4, 0)

    mine = by_name(client, "adopt")
    assert mine["api"].id == box.id  # same devbox, now the stack's
    assert mine["api"].metadata["team"] == "core"
    assert mine["api"].metadata["rlstate.adopted"] == "true"
    for snap_id in snaps:
        meta = client.devboxes.disk_snapshots.query_status(snap_id).snapshot
        assert meta is not None and meta.metadata["rlstate.series"] == "nightly"
    assert [o.id for o in client.objects.list(limit=50)] == [obj.id]  # no copy was made
    after = rlstate(local_server, work, "plan")  # the adopted snapshots are the series' now
    assert f"x prune snapshot.nightly {snaps[0]}" in after.stdout
    assert "Plan: 1 to prune." in after.stdout

    night = rlstate(local_server, work, "retain", "rlstate.yaml", "--json")
    assert night.returncode == 0, night.stderr
    assert summary(night.stdout)["pruned"] == 1  # keep last 2 of the 3 adopted
    left = {s.id for s in client.devboxes.disk_snapshots.list(devbox_id=box.id, limit=50)}
    assert left == set(snaps[1:])
    assert converged(local_server, work, "rlstate.yaml")


def test_an_object_with_other_bytes_is_not_adopted_and_the_plan_says_why(
    local_server: Any, tmp_path: Path
) -> None:
    client = sdk(local_server)
    box, _, obj = _account(client, snapshots=0)
    work = _manifest(tmp_path, box.id, obj.id)
    (work / "settings.txt").write_bytes(b"other bytes\n")

    plan = rlstate(local_server, work, "plan")

    assert plan.returncode == 1
    want = hashlib.sha256(b"other bytes\n").hexdigest()[:12]
    assert f"import object.settings ({obj.id}): cannot be adopted: its bytes hash" in plan.stderr
    assert want in plan.stderr and "Traceback" not in plan.stderr


def test_an_import_of_another_stacks_devbox_is_refused_naming_the_owner(
    local_server: Any, tmp_path: Path
) -> None:
    client = sdk(local_server)
    other = tmp_path / "other"
    other.mkdir()
    (other / "rlstate.yaml").write_text("version: 1\nstack: other\ndevboxes:\n  web: {}\n")
    assert rlstate(local_server, other, "apply", "--yes", "rlstate.yaml").returncode == 0
    theirs = by_name(client, "other")["web"]
    work = tmp_path / "w"
    work.mkdir()
    (work / "rlstate.yaml").write_text(
        f"version: 1\nstack: adopt\ndevboxes:\n  web: {{}}\n"
        f"import:\n  - {{to: devbox.web, id: {theirs.id}}}\n"
    )

    refused = rlstate(local_server, work, "apply", "--yes", "rlstate.yaml")

    assert refused.returncode == 1
    assert f"import devbox.web ({theirs.id}): it belongs to stack 'other'" in refused.stderr
    assert by_name(client, "other")["web"].metadata["rlstate.stack"] == "other"
    assert by_name(client, "adopt") == {}


def test_replacing_an_adopted_devbox_needs_the_flag(local_server: Any, tmp_path: Path) -> None:
    client = sdk(local_server)
    box, _, obj = _account(client, snapshots=0)
    # the SDK made it SMALL: echoed, differs
    work = _manifest(tmp_path, box.id, obj.id, size="LARGE")

    refused = rlstate(local_server, work, "apply", "--yes", "rlstate.yaml")

    assert refused.returncode == 1
    assert f"devbox.api ({box.id}) was adopted, not created by rlstate" in refused.stderr
    assert "--allow-replace-adopted" in refused.stderr
    assert client.devboxes.retrieve(box.id).status == "running"
    assert "rlstate.stack" not in (client.devboxes.retrieve(box.id).metadata or {})

    plan = rlstate(local_server, work, "plan", "--json", "--allow-replace-adopted")
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert data["summary"]["refused"] == 0
    replace = [a for a in data["actions"] if a["kind"] == "replace"]
    assert [(a["address"], a["resource_id"]) for a in replace] == [("devbox.api", box.id)]
    assert "forced by resource_size" in replace[0]["reasons"]


def test_an_apply_killed_mid_adoption_converges_with_nothing_recreated(
    local_server: Any, tmp_path: Path
) -> None:
    client = sdk(local_server)
    box, snaps, obj = _account(client, snapshots=12)
    work = _manifest(tmp_path, box.id, obj.id, keep=20)
    local_server.control("/_local/faults", {"latency_ms": 150})
    run = start(local_server, work, "apply", "--yes", "--json", "-p", "1", "rlstate.yaml")
    assert run.stdout is not None
    for line in run.stdout:
        if '"state": "done"' in line or '"state":"done"' in line:
            run.send_signal(signal.SIGKILL)
            break
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL
    local_server.control("/_local/faults", {"latency_ms": 0})
    stamped = [
        s.id
        for s in client.devboxes.disk_snapshots.list(devbox_id=box.id, limit=50)
        if (s.metadata or {}).get("rlstate.stack") == "adopt"
    ]
    assert len(stamped) < len(snaps)  # killed part-way

    again = rlstate(local_server, work, "apply", "--yes", "--json", "rlstate.yaml")
    assert again.returncode == 0, again.stderr
    kinds = {e["kind"] for e in map(json.loads, again.stdout.splitlines()) if "kind" in e}
    assert kinds <= {"adopt"}
    assert converged(local_server, work, "rlstate.yaml")
    assert by_name(client, "adopt")["api"].id == box.id
    listed = client.devboxes.disk_snapshots.list(devbox_id=box.id, limit=50)
    assert sorted(s.id for s in listed) == sorted(snaps)
    assert [d.id for d in client.devboxes.list(limit=50)] == [box.id]
