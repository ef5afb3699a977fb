"""Helpers for the plan end-to-end tests: a small stack built with the official SDK, as rlstate
itself would have made it (metadata from the planner's own helpers), next to strangers.

Not a test module (it holds no tests). `Shop` makes the resources; `run` calls the real
`rlstate` in a subprocess with `--api-url/--api-key`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from runloop_api_client import Runloop

from reconcile.live.model import KEY_KIND, KEY_NAME, KEY_READY, KEY_SOURCE, KEY_STACK
from reconcile.manifest import LoadedManifest, load_manifest
from reconcile.plan.desired import (
    desired_devboxes,
    desired_objects,
    devbox_create_body,
    devbox_metadata,
    object_metadata,
    snapshot_metadata,
)
from tests.helpers import rlstate_env, run_rlstate
from tests.helpers import sdk as sdk

STACK = "shop"
SECRET = "shop-secret-Value-4242-never-printed"
ENV = {"SHOP_TOKEN": SECRET}
TOOL = "tool v1\n"
MANIFEST = """\
version: 1
stack: shop
objects:
  tool: {path: ./tool.txt}
devboxes:
  api:
    resource_size: SMALL
    env: {LOG_LEVEL: info, TOKEN: "${env:SHOP_TOKEN}"}
    mounts: [{object: tool, path: /home/user/tool.txt}]
    metadata: {team: shop}
  web:
    launch_commands: ["echo web"]
  worker:
    from_snapshot: nightly
    replicas: 2
snapshots:
  nightly:
    devbox: api
    every: 24h
    keep: {last: 2}
"""


def write_shop(folder: Path, text: str = MANIFEST) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tool.txt").write_text(TOOL)
    path = folder / "rlstate.yaml"
    path.write_text(text)
    return path


def load_shop(path: Path) -> LoadedManifest:
    return load_manifest(path, environ=ENV)


@dataclass
class Shop:
    """Makes live resources through the SDK; remembers ids by logical name."""

    client: Runloop
    loaded: LoadedManifest
    ids: dict[str, str] = field(default_factory=dict)

    def object(self, name: str) -> str:
        want = next(o for o in desired_objects(self.loaded) if o.name == name)
        meta = object_metadata(STACK, want)
        self.ids[f"object.{name}"] = self._upload(want.name, want.content_type, meta, TOOL)
        return self.ids[f"object.{name}"]

    def _upload(self, name: str, content_type: str, meta: dict[str, str], text: str) -> str:
        made = self.client.objects.create(name=name, content_type=content_type, metadata=meta)  # type: ignore[arg-type]
        assert made.upload_url
        httpx.put(made.upload_url, content=text.encode(), timeout=30).raise_for_status()
        self.client.objects.complete(made.id)
        return made.id

    def devbox(self, name: str, snapshot_id: str | None = None) -> str:
        """A running devbox exactly as apply would leave devbox `name` (setup done)."""
        want = next(w for w in desired_devboxes(self.loaded) if w.name == name)
        objects = {k.split(".", 1)[1]: v for k, v in self.ids.items() if k.startswith("object.")}
        body = devbox_create_body(self.loaded, want, objects, snapshot_id)
        body["metadata"] = devbox_metadata(STACK, want, ready=True)
        if snapshot_id:
            body["metadata"][KEY_SOURCE] = snapshot_id
        env = body.get("environment_variables") or {}
        body["environment_variables"] = {k: self.loaded.resolve(v) for k, v in env.items()}
        box = self.client.devboxes.create_and_await_running(**body)
        self.ids[f"devbox.{name}"] = box.id
        return box.id

    def snapshot(self, series: str, devbox: str) -> str:
        meta = snapshot_metadata(STACK, series, protect=False)
        snap = self.client.devboxes.snapshot_disk(self.ids[devbox], name=series, metadata=meta)
        return snap.id

    def converged(self) -> None:
        """Everything MANIFEST names, with a fresh complete snapshot of `nightly`."""
        self.object("tool")
        self.devbox("api")
        self.devbox("web")
        self.ids["snapshot.nightly"] = self.snapshot("nightly", "devbox.api")
        for n in (0, 1):
            self.devbox(f"worker-{n}", snapshot_id=self.ids["snapshot.nightly"])

    def leftover_devbox(self, name: str) -> str:
        """A devbox this stack made once under a name the manifest no longer has."""
        meta = {KEY_STACK: STACK, KEY_KIND: "devbox", KEY_NAME: name, KEY_READY: "true"}
        return self.client.devboxes.create_and_await_running(name=name, metadata=meta).id


@dataclass
class Strangers:
    """Resources rlstate must never touch: another stack's and unmarked ones, named alike."""

    devboxes: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)

    @property
    def ids(self) -> set[str]:
        return {*self.devboxes, *self.objects, *self.snapshots}


def make_strangers(client: Runloop, shop: Shop) -> Strangers:
    found = Strangers()
    other = {KEY_STACK: "other", KEY_KIND: "devbox", KEY_NAME: "web"}
    web = client.devboxes.create_and_await_running(name="web", metadata=other).id
    bare = client.devboxes.create_and_await_running(name="api").id
    found.devboxes += [web, bare]
    for meta in ({}, {KEY_STACK: "other", KEY_KIND: "object", KEY_NAME: "tool"}):
        found.objects.append(shop._upload("tool", "text", meta, "someone else's\n"))
    # Taken by hand from this stack's devbox (unmarked), and another stack's "nightly".
    api = shop.ids["devbox.api"]
    found.snapshots.append(client.devboxes.snapshot_disk(api, name="by-hand").id)
    marks = {KEY_STACK: "other", KEY_KIND: "snapshot", KEY_NAME: "nightly"}
    marks["rlstate.series"] = "nightly"
    found.snapshots.append(client.devboxes.snapshot_disk(web, name="n", metadata=marks).id)
    return found


def inventory(client: Runloop, ids: set[str]) -> dict[str, Any]:
    """What a stranger looks like now (status, name, metadata), by id."""
    seen: dict[str, Any] = {}
    for d in client.devboxes.list(limit=500):
        if d.id in ids:
            seen[d.id] = (d.status, d.name, d.metadata)
    for o in client.objects.list(limit=500):
        if o.id in ids:
            seen[o.id] = (o.state, o.name, o.metadata)
    for s in client.devboxes.disk_snapshots.list(limit=500):
        if s.id in ids:
            status = client.devboxes.disk_snapshots.query_status(s.id).status
            seen[s.id] = (status, s.name, s.metadata)
    return seen


def run(
    server: Any, cwd: Path, *args: str, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`rlstate ARGS --api-url URL --api-key KEY` in a subprocess, with the shop's secret set."""
    return run_rlstate(args, cwd=cwd, api=server, key=key, env=rlstate_env(ENV))
