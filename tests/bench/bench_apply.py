"""Benchmark: `rlstate apply` against a plain sequential script written the way the Runloop
docs do it (official SDK: create, poll with time.sleep(1), snapshot, poll, restore).

Two scenarios, each run by both, side by side, against one local backend (a separate
process) whose devboxes take BOOT seconds to boot:
  independent  N devboxes with no setup
  fan-out      one builder (with setup), a snapshot, then R devboxes restored from it
Prints wall time, requests, and requests per created devbox. `--latency-ms` (default 50) adds
that much to every API answer, standing for the round trip to the Runloop cloud (0: loopback).
`--parallelism` lists the settings rlstate runs at (0: its default). `--rate-limit R` adds a run
of the independent scenario at rlstate's defaults under the server's limit of R requests/s and
compares it with the best any client could do there: its successful requests / R.
Not a test: run it by hand,
    python tests/bench/bench_apply.py [--count 100] [--replicas 20] [--boot 2] [--latency-ms 50]
        [--parallelism 0 10] [--rate-limit 20] [--scenarios independent fan-out]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from runloop_api_client import Runloop

REPO = Path(__file__).resolve().parents[2]
TOKEN = "bench-token-not-secret"
LATENCY = [50]  # ms added to every answer (--latency-ms)


@dataclass
class Figures:
    who: str
    scenario: str
    seconds: float
    requests: int
    devboxes: int
    throttled: int = 0
    peak: int = 0
    applying: float = 0.0  # the apply phase alone (rlstate's summary): no start-up, no plan

    def line(self) -> str:
        per = self.requests / self.devboxes if self.devboxes else 0.0
        return (
            f"{self.scenario:<12} {self.who:<22} {self.seconds:8.1f} s {self.requests:7d} requests"
            f" {per:6.2f} per devbox"
        )


@contextmanager
def local_backend(boot: float) -> Iterator[str]:
    """A local backend in its own process; each of provisioning/initializing takes boot/2 s."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="rlstate-bench-")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [
        sys.executable,
        "-m",
        "reconcile",
        "local",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        data,
        "--token",
        TOKEN,
        "--transition-seconds",
        str(boot / 2),
    ]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/_local/info", headers=_auth(), timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def reset(url: str, latency_ms: int) -> None:
    """Empties the backend; a reset also turns faults off, so the latency is set again."""
    httpx.post(f"{url}/_local/reset", headers=_auth(), json={}, timeout=120).raise_for_status()
    set_faults(url, latency_ms=latency_ms)


def independent_manifest(count: int) -> str:
    boxes = "".join(f"  box-{n}:\n    keep_alive: 1h\n" for n in range(count))
    return f"version: 1\nstack: bench\ndevboxes:\n{boxes}"


def fanout_manifest(replicas: int) -> str:
    return (
        "version: 1\nstack: bench\ndevboxes:\n"
        "  builder:\n    setup:\n      - echo built > /home/user/BUILD\n"
        f"  worker:\n    from_snapshot: golden\n    replicas: {replicas}\n"
        "snapshots:\n  golden:\n    devbox: builder\n    keep: {last: 2}\n"
    )


def set_faults(url: str, **faults: float | None) -> None:
    httpx.post(f"{url}/_local/faults", headers=_auth(), json=faults, timeout=60).raise_for_status()


def run_rlstate(url: str, manifest: str, parallelism: int, scenario: str, made: int) -> Figures:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rlstate.yaml"
        path.write_text(manifest)
        args = [
            sys.executable,
            "-m",
            "reconcile",
            "apply",
            str(path),
            "--yes",
            "--json",
            *(["--parallelism", str(parallelism)] if parallelism else []),
            "--api-url",
            url,
            "--api-key",
            TOKEN,
        ]
        started = time.monotonic()
        done = subprocess.run(
            args,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    if summary.get("result") != "converged":
        raise SystemExit(f"rlstate did not converge:\n{done.stdout[-2000:]}\n{done.stderr}")
    who = f"rlstate (-p {parallelism})" if parallelism else "rlstate (defaults)"
    figures = Figures(who, scenario, seconds, summary["requests"], made)
    figures.applying = float(summary.get("elapsed_s", 0.0))
    figures.throttled = summary.get("throttled", 0)
    figures.peak = summary.get("peak_concurrency", 0)
    return figures


def counting_sdk(url: str) -> tuple[Runloop, Callable[[], int]]:
    count = [0]

    def hook(_request: httpx.Request) -> None:
        count[0] += 1

    client = httpx.Client(event_hooks={"request": [hook]}, timeout=60)
    return Runloop(base_url=url, bearer_token=TOKEN, http_client=client), lambda: count[0]


def wait_running(client: Runloop, devbox_id: str) -> None:
    while client.devboxes.retrieve(devbox_id).status != "running":
        time.sleep(1)


def sequential_independent(url: str, count: int) -> Figures:
    client, requests = counting_sdk(url)
    started = time.monotonic()
    for n in range(count):
        devbox = client.devboxes.create(name=f"box-{n}", metadata={"stack": "bench"})
        wait_running(client, devbox.id)
    return Figures(
        "sequential SDK script", "independent", time.monotonic() - started, requests(), count
    )


def sequential_fanout(url: str, replicas: int) -> Figures:
    client, requests = counting_sdk(url)
    started = time.monotonic()
    builder = client.devboxes.create(name="builder")
    wait_running(client, builder.id)
    client.devboxes.execute(builder.id, command="echo built > /home/user/BUILD")
    snapshot = client.devboxes.snapshot_disk_async(builder.id, name="golden")
    while True:
        status = client.devboxes.disk_snapshots.query_status(snapshot.id)
        if status.status == "complete":
            break
        if status.status == "error":
            raise SystemExit(f"snapshot failed: {status.error_message}")
        time.sleep(1)
    for n in range(replicas):
        worker = client.devboxes.create(name=f"worker-{n}", snapshot_id=snapshot.id)
        wait_running(client, worker.id)
    return Figures(
        "sequential SDK script", "fan-out", time.monotonic() - started, requests(), replicas + 1
    )


def limited(url: str, manifest: str, count: int, rate: float) -> None:
    """rlstate at its defaults under the server's rate limit, against N successful / rate."""
    reset(url, LATENCY[0])
    set_faults(url, rate_limit=rate)
    try:
        row = run_rlstate(url, manifest, 0, "independent", count)
    finally:
        set_faults(url, rate_limit=None)
    passed = row.requests - row.throttled
    best = passed / rate
    print(
        f"under {rate:g} requests/s: {row.seconds:.1f} s, {row.requests} requests "
        f"({row.throttled} answered 429, peak {row.peak} in flight); best possible "
        f"{passed} / {rate:g} = {best:.1f} s; rlstate took {row.seconds / best:.2f}x that",
        flush=True,
    )
    print(
        f"  of which applying (after start-up and the plan): {row.applying:.1f} s, "
        f"{row.applying / best:.2f}x the best",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=20)
    parser.add_argument("--boot", type=float, default=2.0, help="seconds a devbox takes to boot")
    parser.add_argument("--parallelism", type=int, nargs="+", default=[0, 10])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rate-limit", type=float, default=None)
    parser.add_argument("--scenarios", nargs="*", default=["independent", "fan-out"])
    args = parser.parse_args()
    rows: list[Figures] = []
    with local_backend(args.boot) as url:
        LATENCY[0] = args.latency_ms
        print(f"every answer delayed {args.latency_ms} ms; boots take {args.boot:g} s", flush=True)
        scenarios: list[tuple[str, str, int, Callable[[], Figures]]] = [
            (
                "independent",
                independent_manifest(args.count),
                args.count,
                lambda: sequential_independent(url, args.count),
            ),
            (
                "fan-out",
                fanout_manifest(args.replicas),
                args.replicas + 1,
                lambda: sequential_fanout(url, args.replicas),
            ),
        ]
        if args.rate_limit:
            limited(url, independent_manifest(args.count), args.count, args.rate_limit)
        for scenario, manifest, made, sequential in scenarios:
            if scenario not in args.scenarios:
                continue
            for parallelism in args.parallelism:
                reset(url, LATENCY[0])
                rows.append(run_rlstate(url, manifest, parallelism, scenario, made))
                print(rows[-1].line(), flush=True)
            reset(url, LATENCY[0])
            rows.append(sequential())
            print(rows[-1].line(), flush=True)
    print()
    for scenario in args.scenarios:
        base = next(r for r in rows if r.scenario == scenario and r.who.startswith("sequential"))
        for row in rows:
            if row.scenario == scenario and row is not base:
                print(
                    f"{scenario:<12} {row.who:<22} {base.seconds / row.seconds:6.1f}x faster "
                    f"than the sequential script"
                )


if __name__ == "__main__":
    main()
