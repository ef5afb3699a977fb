"""Helpers for the `rlstate retain` tests (no tests here): a recording proxy that counts what
reaches the API, the backend's clock, subprocess runs, and what the retention engine predicts.

What a run did is always checked from outside: with the official SDK and the proxy's log.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from runloop_api_client import Runloop

from reconcile.retention import RetentionDecision, RetentionPolicy, SnapshotRecord, decide_retention
from tests.helpers import ApiAt, run_rlstate
from tests.helpers import sdk as sdk

STACK = "nightly"
SERIES_KEY = "rlstate.series"
STACK_KEY = "rlstate.stack"
REFUSED_KEY = "rlstate.delete_refused"  # on an error snapshot the API refused to delete
_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


@dataclass
class ProxyLog:
    """Every request the proxy forwarded: (method, path); and of each that was not a GET, the
    path and the body as sent (what rlstate asked the API to write)."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    writes: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, body: bytes = b"") -> None:
        with self.lock:
            self.requests.append((method, path))
            if method != "GET":
                self.writes.append((path, body))

    def take(self) -> list[tuple[str, str]]:
        """The requests logged since the last take."""
        with self.lock:
            out, self.requests = self.requests, []
        return out


def mutating(requests: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Requests that can change something (every Runloop read is a GET)."""
    return [(m, p) for m, p in requests if m != "GET"]


def _handler(upstream: httpx.Client, log: ProxyLog) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            log.add(self.command, self.path.split("?", 1)[0], body)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            reply = upstream.request(self.command, self.path, content=body, headers=headers)
            self.upstream_date = reply.headers.get("date")  # the API's time, passed through
            self.send_response(reply.status_code)
            for key, value in reply.headers.items():
                if key.lower() not in _HOP and key.lower() not in ("date", "server"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        do_GET = do_POST = do_PUT = do_DELETE = _forward
        upstream_date: str | None = None

        def date_time_string(self, timestamp: float | None = None) -> str:
            return self.upstream_date or super().date_time_string(timestamp)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # status reads open 16 connections at once


@contextmanager
def recording_proxy(upstream_url: str) -> Iterator[tuple[str, ProxyLog]]:
    """A real HTTP proxy on a loopback port in front of `upstream_url`; yields (url, log)."""
    log = ProxyLog()
    with httpx.Client(base_url=upstream_url, timeout=120) as upstream:
        server = _Server(("127.0.0.1", 0), _handler(upstream, log))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", log
        finally:
            server.shutdown()
            server.server_close()


class BackendClock:
    """The local backend's clock (real time plus the offset the test sets): the test's only time."""

    def __init__(self, server: Any) -> None:
        self.http = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
        )

    def set_offset(self, seconds: float) -> None:
        self.http.post("/_local/clock", json={"offset_seconds": seconds}).raise_for_status()

    def now(self) -> datetime:
        reply = self.http.get("/_local/clock")
        reply.raise_for_status()
        return datetime.fromtimestamp(reply.json()["now_ms"] / 1000, UTC)

    def speed(self, **settings: Any) -> None:
        self.http.post("/_local/speed", json=settings).raise_for_status()

    def faults(self, **settings: Any) -> None:
        self.http.post("/_local/faults", json=settings).raise_for_status()

    def close(self) -> None:
        self.http.close()


def write_manifest(folder: Path, series: dict[str, dict[str, Any]], devboxes: bool) -> Path:
    """A manifest of stack `nightly` with these series (and devbox `builder` if asked)."""
    doc: dict[str, Any] = {"version": 1, "stack": STACK, "snapshots": series}
    if devboxes:
        doc["devboxes"] = {"builder": {"resource_size": "X_SMALL"}}
    path = folder / "rlstate.yaml"
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML
    return path


def managed_builder(client: Runloop) -> str:
    """A running devbox carrying the stack's ownership marks, as `apply` leaves devbox.builder."""
    meta = {STACK_KEY: STACK, "rlstate.kind": "devbox", "rlstate.name": "builder"}
    return client.devboxes.create_and_await_running(name="builder", metadata=meta).id


def all_snapshots(client: Runloop) -> list[Any]:
    return list(client.devboxes.disk_snapshots.list(limit=5000))


def series_snapshots(client: Runloop, series: str) -> dict[str, Any]:
    """The live snapshots rlstate took for a series, by id."""
    return {
        s.id: s
        for s in all_snapshots(client)
        if (s.metadata or {}).get(STACK_KEY) == STACK
        and (s.metadata or {}).get(SERIES_KEY) == series
    }


def record(client: Runloop, snap: Any) -> SnapshotRecord:
    """A snapshot as the engine sees it: server create time, status read with the SDK."""
    status = client.devboxes.disk_snapshots.query_status(snap.id).status
    created = datetime.fromtimestamp(snap.create_time_ms / 1000, UTC)
    refused = (snap.metadata or {}).get(REFUSED_KEY) == "error"
    return SnapshotRecord(snap.id, created, status, snap.size_bytes, delete_refused=refused)


def predict(
    records: list[SnapshotRecord], policy: RetentionPolicy, now: datetime
) -> RetentionDecision:
    return decide_retention(records, policy, now)


def newest_complete(records: list[SnapshotRecord]) -> SnapshotRecord | None:
    done = [r for r in records if r.status == "complete"]
    return max(done, key=lambda r: (r.created, r.id)) if done else None


def inventory(client: Runloop, skip_series: bool = True) -> dict[str, Any]:
    """Everything the API holds, as comparable values; the series' own snapshots left out."""
    boxes = {
        d.id: (d.status, d.name, dict(d.metadata or {})) for d in client.devboxes.list(limit=500)
    }
    objects = {
        o.id: (o.state, o.name, dict(o.metadata or {})) for o in client.objects.list(limit=500)
    }
    snaps = {
        s.id: (s.name, dict(s.metadata or {}), s.source_devbox_id)
        for s in all_snapshots(client)
        if not (skip_series and (s.metadata or {}).get(STACK_KEY) == STACK)
    }
    return {"devboxes": boxes, "objects": objects, "snapshots": snaps}


def rlstate(
    url: str, token: str, cwd: Path, *args: str, command: str = "retain"
) -> subprocess.CompletedProcess[str]:
    """`rlstate COMMAND ARGS` against the API at `url` (a recording proxy or the server)."""
    return run_rlstate([command, *args], cwd=cwd, api=ApiAt(url, token), timeout=300)


def events(stdout: str) -> list[dict[str, Any]]:
    """Every line of --json output, parsed (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def summary(stdout: str) -> dict[str, Any]:
    found = events(stdout)
    assert found and found[-1]["event"] == "summary", f"no closing summary in:\n{stdout}"
    return found[-1]
