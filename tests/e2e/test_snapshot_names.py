"""Snapshot names survive rlstate's metadata updates: adoption, completion stamps, grace marks,
`undelete` and verify stamps each send the snapshot's name with the whole metadata map.

Runloop documents the snapshot update as a replace, so a request that left the name out could
clear it in the cloud; the local backend keeps an omitted name, so besides reading the names
back with the SDK, a recording proxy in front of it checks every update's body as sent. The
real CLI runs in subprocesses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from plan_support import Shop, load_shop, write_shop
from retain_support import BackendClock, ProxyLog, recording_proxy, rlstate, summary

from reconcile.live.model import (
    KEY_ADOPTED,
    KEY_DELETE_AFTER,
    KEY_STATE,
    KEY_VERIFIED,
)
from reconcile.plan.desired import snapshot_metadata
from tests.helpers import sdk

BARE = "version: 1\nstack: shop\ndevboxes:\n  api: {}\n"
UPDATE = re.compile(r"^/v1/devboxes/disk_snapshots/(snp_[^/]+)$")
MANIFEST = """\
version: 1
stack: shop
devboxes:
  api: {{}}
snapshots:
  nightly:
    devbox: api
    every: 24h
    keep: {{last: 1}}
    max_prune: 100%
    prune: {{grace: 36h}}
    verify: {{command: echo restored, every: 7d, timeout: 2m}}
import:
  - {{to: snapshot.nightly, devbox: {devbox}}}
"""


def _updates(log: ProxyLog) -> list[tuple[str, dict[str, Any]]]:
    """(snapshot id, body) of each snapshot update the proxy forwarded, in order."""
    found = []
    for path, body in log.writes:
        match = UPDATE.match(path)
        if match:
            found.append((match[1], json.loads(body)))
    return found


def _run(url: str, token: str, cwd: Path, command: str, *args: str) -> dict[str, Any]:
    done = rlstate(url, token, cwd, *args, command=command)
    assert done.returncode == 0, done.stdout + done.stderr
    return summary(done.stdout) if "--json" in args and command != "undelete" else {}


def test_every_snapshot_update_sends_the_name_and_names_stay(
    local_server: Any, tmp_path: Path
) -> None:
    client = sdk(local_server)
    box = Shop(client, load_shop(write_shop(tmp_path, BARE))).devbox("api")
    write_shop(tmp_path, MANIFEST.format(devbox=box))
    meta = snapshot_metadata("shop", "nightly", protect=False)  # the stack's, never read complete
    unnamed = client.devboxes.snapshot_disk(box, metadata=meta).id  # no name: none is sent
    mon = client.devboxes.snapshot_disk(box, name="mon", metadata=meta).id  # marked
    tue = client.devboxes.snapshot_disk(box, name="tue", metadata=meta).id  # kept: stamped
    manual = client.devboxes.snapshot_disk(box, name="manual-0").id  # adopted by the import
    before = {s.id: s.name for s in client.devboxes.disk_snapshots.list(limit=100)}
    assert before == {unnamed: None, mon: "mon", tue: "tue", manual: "manual-0"}

    with recording_proxy(local_server.url) as (url, log):
        _run(url, local_server.token, tmp_path, "plan")  # the names go through the plan file
        _run(url, local_server.token, tmp_path, "apply", "--json")  # adopt, stamp, mark
        clock = BackendClock(local_server)
        clock.set_offset(86400)  # a day on (inside the grace): a snapshot is due, marks stay
        clock.close()
        night = _run(url, local_server.token, tmp_path, "retain", "--json")  # take, mark, verify
        _run(url, local_server.token, tmp_path, "undelete", "nightly", "--all")

    listed = client.devboxes.disk_snapshots.list(limit=100)
    after = {s.id: (s.name, dict(s.metadata or {})) for s in listed}
    assert {i: after[i][0] for i in before} == before  # every name as it was
    updates = _updates(log)
    for snapshot_id, body in updates:
        name = after[snapshot_id][0]
        assert body.get("name") == name and ("name" in body) == (name is not None), body
    wrote = {i: [b["metadata"] for j, b in updates if j == i] for i in after}
    assert any(KEY_ADOPTED in m for m in wrote[manual])  # the adoption
    assert any(m.get(KEY_STATE) == "complete" and KEY_DELETE_AFTER not in m for m in wrote[tue])
    marked = {i for i, ms in wrote.items() if any(KEY_DELETE_AFTER in m for m in ms)}
    assert {unnamed, mon, manual} <= marked  # the grace marks …
    assert not any(KEY_DELETE_AFTER in m for _, m in after.values())  # … which undelete took off
    assert night["taken"] == 1
    (new,) = set(after) - set(before)  # tonight's, named SERIES-STAMP by rlstate
    assert after[new][0].startswith("nightly-")
    assert any(m.get(KEY_STATE) == "complete" for m in wrote[new])  # its completion mark
    assert any(KEY_VERIFIED in m for m in wrote[new])  # the verified stamp, after the probe
