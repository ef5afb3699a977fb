"""What the chaos tests check through the API once a run has converged: the stack holds exactly
what its manifest declares (no duplicates, nothing half-made, nothing stuck), and resources
rlstate does not own are as they were."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

TOKEN = "chaos-token-not-secret"
BOOTING = {"provisioning", "initializing", "suspending", "resuming", "queued"}
ACTIVE = BOOTING | {"running", "suspended"}


@dataclass
class Api:
    """Where a local server answers: its URL and token, and its /_local/ controls."""

    url: str
    token: str = TOKEN

    def client(self, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def control(self, path: str, body: dict[str, object]) -> dict[str, Any]:
        with self.client() as c:
            resp = c.post(path, json=body)
            resp.raise_for_status()
            data: dict[str, Any] = resp.json()
            return data


@dataclass(frozen=True)
class Expected:
    """What a converged stack holds: devbox and object names, and its snapshot series."""

    stack: str
    devboxes: frozenset[str]
    objects: frozenset[str] = frozenset()
    series: frozenset[str] = frozenset()


def _list(c: httpx.Client, path: str, key: str) -> list[dict[str, Any]]:
    resp = c.get(path, params={"limit": 5000})
    resp.raise_for_status()
    items: list[dict[str, Any]] = resp.json()[key]
    return items


@dataclass
class World:
    """Every devbox, object and snapshot the server holds (snapshots with their status)."""

    devboxes: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    snapshots: list[dict[str, Any]]

    @classmethod
    def read(cls, api: Api) -> World:
        with api.client() as c:
            boxes = _list(c, "/v1/devboxes", "devboxes")
            objs = _list(c, "/v1/objects", "objects")
            snaps = _list(c, "/v1/devboxes/disk_snapshots", "snapshots")
            for snap in snaps:
                status = c.get(f"/v1/devboxes/disk_snapshots/{snap['id']}/status")
                status.raise_for_status()
                snap["status"] = status.json()["status"]
        return cls(boxes, objs, snaps)

    def devboxes_up(self) -> list[dict[str, Any]]:
        return [d for d in self.devboxes if d["status"] in ACTIVE]

    def by_name(self) -> dict[str, dict[str, Any]]:
        """Devboxes up by logical name (the last one listed, when there are several)."""
        return {str(d["metadata"].get("rlstate.name")): d for d in self.devboxes_up()}

    def of(self, stack: str) -> World:
        def mine(item: dict[str, Any]) -> bool:
            return (item.get("metadata") or {}).get("rlstate.stack") == stack

        return World(
            [d for d in self.devboxes if mine(d)],
            [o for o in self.objects if mine(o) and o["state"] != "DELETED"],
            [s for s in self.snapshots if mine(s)],
        )


def _names(items: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str((i.get("metadata") or {}).get("rlstate.name")) for i in items)


def problems(world: World, want: Expected) -> list[str]:
    """What is wrong with a stack that should be converged (empty when nothing)."""
    found: list[str] = []
    mine = world.of(want.stack)
    active = [d for d in mine.devboxes if d["status"] in ACTIVE]
    boxes = _names(active)
    if set(boxes) != want.devboxes or any(n > 1 for n in boxes.values()):
        found.append(f"devboxes {dict(boxes)} != {sorted(want.devboxes)}")
    found += [f"{d['id']} is {d['status']}" for d in active if d["status"] in BOOTING]
    found += [
        f"{d['id']} was never marked set up"
        for d in active
        if d["metadata"].get("rlstate.ready") == "false"
    ]
    objs = _names(mine.objects)
    if set(objs) != want.objects or any(n > 1 for n in objs.values()):
        found.append(f"objects {dict(objs)} != {sorted(want.objects)}")
    found += [f"{o['id']} is {o['state']}" for o in mine.objects if o["state"] != "READ_ONLY"]
    for series in want.series:
        statuses = [
            s["status"] for s in mine.snapshots if s["metadata"].get("rlstate.series") == series
        ]
        if "complete" not in statuses:
            found.append(f"series {series} has no complete snapshot ({statuses})")
    # An error snapshot the API refused to delete stays (the API keeps those), marked so.
    kept_by_api = [
        s for s in mine.snapshots if s["metadata"].get("rlstate.delete_refused") == "error"
    ]
    found += [
        f"{s['id']} marked undeletable but {s['status']}"
        for s in kept_by_api
        if s["status"] != "error"
    ]
    settled = [s for s in mine.snapshots if s not in kept_by_api]
    strays = {s["metadata"].get("rlstate.series") for s in settled} - {*want.series, None}
    found += [f"snapshots of series {s} that is not declared" for s in strays]
    found += [
        f"{s['id']} still in_progress" for s in world.snapshots if s["status"] == "in_progress"
    ]
    found += [f"{d['id']} stuck {d['status']}" for d in world.devboxes if d["status"] in BOOTING]
    return found


@dataclass(frozen=True)
class Foreign:
    """Resources rlstate does not own (another tool's devbox and snapshot, another stack's
    devbox, an object), and what they looked like."""

    devboxes: tuple[str, ...]
    snapshot: str
    obj: str

    @classmethod
    def make(cls, api: Api) -> Foreign:
        with api.client() as c:
            stranger = _running(c, {"name": "builder", "metadata": {"team": "other"}})
            other = {"rlstate.stack": "someone-else", "rlstate.name": "builder"}
            elsewhere = _running(c, {"name": "builder", "metadata": other})
            snap = c.post(f"/v1/devboxes/{stranger}/snapshot_disk", json={"name": "theirs"})
            snap.raise_for_status()
            obj = c.post("/v1/objects", json={"name": "app-config", "content_type": "text"})
            obj.raise_for_status()
        return cls((stranger, elsewhere), snap.json()["id"], obj.json()["id"])

    def changes(self, api: Api) -> list[str]:
        found = []
        with api.client() as c:
            for devbox_id in self.devboxes:
                status = c.get(f"/v1/devboxes/{devbox_id}").json()["status"]
                if status != "running":
                    found.append(f"foreign devbox {devbox_id} is {status}")
            snap = c.get(f"/v1/devboxes/disk_snapshots/{self.snapshot}/status").json()
            if snap.get("status") != "complete":
                found.append(f"foreign snapshot {self.snapshot}: {snap}")
            obj = c.get(f"/v1/objects/{self.obj}").json()
            if obj.get("state") != "UPLOADING":
                found.append(f"foreign object {self.obj}: {obj}")
        return found


def _running(c: httpx.Client, body: dict[str, Any]) -> str:
    made = c.post("/v1/devboxes", json=body)
    made.raise_for_status()
    devbox_id: str = made.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = c.post(
            f"/v1/devboxes/{devbox_id}/wait_for_status",
            json={"statuses": ["running"], "timeout_seconds": 10},
        )
        if view.status_code == 200 and view.json()["status"] == "running":
            return devbox_id
    raise AssertionError(f"devbox {devbox_id} did not start")


def settle(api: Api, timeout: float = 60) -> World:
    """The world once no snapshot is in progress and no devbox between statuses (e.g. after an
    aborted run left its last snapshot running on the server)."""
    deadline = time.monotonic() + timeout
    while True:
        world = World.read(api)
        busy = [s for s in world.snapshots if s["status"] == "in_progress"]
        busy += [d for d in world.devboxes if d["status"] in BOOTING]
        if not busy:
            return world
        assert time.monotonic() < deadline, f"still busy after {timeout}s: {busy}"
        time.sleep(0.2)
