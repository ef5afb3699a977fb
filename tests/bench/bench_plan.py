"""Benchmark: `rlstate plan` on a big converged stack and on a small one.

Big: 1,000 devboxes (5 builders + 995 replicas), 200 objects (40 mounted by each builder),
5,000 snapshots (5 series of 1,000, the newest an hour old, `every: 24h`), seeded into a local
backend (its own process) through POST /_local/seed with exactly the metadata apply would
have written, next to a matching manifest. Small: 10 resources (3 devboxes, 2 objects,
5 snapshots). `--prune` makes each big series keep one fewer than it has (5 prunes), which
needs every status of those series read unless the snapshots carry rlstate.state=complete
(apply's mark once it saw one finish; seeded by default, `--unmarked` leaves it off).

`--latency-ms` (default 50) adds that much to every API answer (POST /_local/faults), standing
for the round trip to the Runloop cloud; 0 is loopback speed. Next to each big plan it times a
refresh peer in the same run: a Terraform-style refresh that reads every resource of the stack
by id, one request each, 10 in flight. The plan is timed reached as 127.0.0.1 and, with
`--also-by-name`, by this machine's non-loopback address (the speed must not depend on it).

Prints, per stack: `rlstate plan` as a subprocess (wall time min/median/max over --runs, peak
RSS), and the same plan in process by phase (discover, build_plan, render) with requests by
route (RunloopClient.stats) and the tracemalloc peak. Target: the big plan under 3 s, with
one request per 5,000 listed items per kind plus the status reads a decision needs.
Not a test; run it by hand:
    python tests/bench/bench_plan.py [--runs 3] [--prune] [--unmarked] [--latency-ms 50]
                                     [--series-size 1000] [--also-by-name]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from reconcile.api.client import RunloopClient  # noqa: E402
from reconcile.commands.common import discover  # noqa: E402
from reconcile.live.model import KEY_STATE  # noqa: E402
from reconcile.manifest import LoadedManifest, load_manifest  # noqa: E402
from reconcile.plan.desired import (  # noqa: E402
    desired_devboxes,
    desired_objects,
    devbox_metadata,
    object_metadata,
    snapshot_metadata,
)
from reconcile.plan.planner import build_plan  # noqa: E402
from reconcile.render import plan_to_json, render_plan_text  # noqa: E402
from tests.helpers import rlstate_env  # noqa: E402

TOKEN = "bench-token-not-secret"
HOUR_MS = 3_600_000


@contextmanager
def local_backend() -> Iterator[str]:
    """A local backend in its own process (so its work is not counted as the plan's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="rlstate-bench-plan-")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "reconcile", "local", "serve", "--port", str(port)]
    args += ["--data-dir", data, "--token", TOKEN, "--host", "0.0.0.0"]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                control(url, "/_local/info")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=300) as c:
        resp = c.post(path, json=body) if body is not None else c.get(path)
        resp.raise_for_status()
        return resp.json()


def big_manifest(folder: Path, keep: int) -> Path:
    """5 builders mounting 40 objects each, a worker group of 995, 5 series of the builders."""
    lines = ["version: 1", "stack: bench", "objects:"]
    for n in range(200):
        (folder / f"o{n:03d}.txt").write_text(f"object {n}\n")
        lines.append(f"  o{n:03d}: {{path: ./o{n:03d}.txt}}")
    lines.append("devboxes:")
    for b in range(5):
        mounts = ", ".join(
            f"{{object: o{n:03d}, path: /home/user/o{n:03d}}}" for n in range(b * 40, b * 40 + 40)
        )
        lines += [f"  builder-{b}:", "    resource_size: SMALL", f"    mounts: [{mounts}]"]
    lines += ["  worker:", "    replicas: 995", "    env: {ROLE: worker}"]
    lines.append("snapshots:")
    for b in range(5):
        lines += [f"  s{b}:", f"    devbox: builder-{b}", "    every: 24h"]
        lines.append(f"    keep: {{last: {keep}}}")
    return _write(folder, lines)


def small_manifest(folder: Path) -> Path:
    lines = ["version: 1", "stack: bench", "objects:"]
    for n in range(2):
        (folder / f"o{n}.txt").write_text(f"small {n}\n")
        lines.append(f"  o{n}: {{path: ./o{n}.txt}}")
    lines += ["devboxes:", "  builder:", "    mounts: [{object: o0, path: /home/user/o0}]"]
    lines += ["  web:", "    replicas: 2"]
    lines += ["snapshots:", "  nightly:", "    devbox: builder", "    every: 24h"]
    lines.append("    keep: {last: 5}")
    return _write(folder, lines)


def _write(folder: Path, lines: list[str]) -> Path:
    path = folder / "rlstate.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed(url: str, loaded: LoadedManifest, per_series: int, marked: bool) -> dict[str, list[str]]:
    """The stack as apply would have left it: every resource with its ownership metadata
    (snapshots with rlstate.state=complete, the mark apply leaves once it saw one finish,
    unless not `marked`: then every status must be read)."""
    stack = loaded.manifest.stack
    now_ms = int(control(url, "/_local/clock")["now_ms"])
    wanted = desired_devboxes(loaded)
    devboxes = [
        {
            "name": w.name,
            "status": "running",
            "metadata": devbox_metadata(stack, w, ready=True),
            "create_time_ms": now_ms - 48 * HOUR_MS,
        }
        for w in wanted
    ]
    devbox_ids = control(url, "/_local/seed", {"devboxes": devboxes})["devboxes"]
    ids = dict(zip([w.name for w in wanted], devbox_ids, strict=True))
    objects = [
        {
            "name": o.name,
            "content_type": o.content_type,
            "metadata": object_metadata(stack, o),
            "create_time_ms": now_ms - 48 * HOUR_MS,
        }
        for o in desired_objects(loaded)
    ]
    snapshots = []
    mark = {KEY_STATE: "complete"} if marked else {}
    for name, spec in loaded.manifest.snapshots.items():
        for k in range(per_series):
            snapshots.append(
                {
                    "source_devbox_id": ids[spec.devbox],
                    "name": f"{name}-{k}",
                    "metadata": {**snapshot_metadata(stack, name, protect=False), **mark},
                    "create_time_ms": now_ms - HOUR_MS - k * 60_000,
                }
            )
    made = control(url, "/_local/seed", {"objects": objects, "snapshots": snapshots})
    return {"devboxes": devbox_ids, "objects": made["objects"], "snapshots": made["snapshots"]}


def refresh_peer(url: str, ids: dict[str, list[str]], in_flight: int = 10) -> tuple[float, int]:
    """A Terraform-style refresh: every resource read by id, `in_flight` at a time."""
    routes = {
        "devboxes": "/v1/devboxes/{}",
        "objects": "/v1/objects/{}",
        "snapshots": "/v1/devboxes/disk_snapshots/{}/status",
    }
    paths = [routes[kind].format(i) for kind, found in ids.items() for i in found]

    async def go() -> int:
        limits = httpx.Limits(max_connections=in_flight)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
            todo = iter(paths)

            async def worker() -> int:
                n = 0
                for path in todo:
                    (await client.get(path, timeout=60)).raise_for_status()
                    n += 1
                return n

            return sum(await asyncio.gather(*(worker() for _ in range(in_flight))))

    start = time.perf_counter()
    count = asyncio.run(go())
    return time.perf_counter() - start, count


def non_loopback_url(url: str) -> str | None:
    """`url` with this machine's outward address instead of 127.0.0.1 (None if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else url.replace("127.0.0.1", address)


# The child reports its own high-water RSS: wait4's ru_maxrss would include this (big) parent's,
# which a child inherits at exec.
WRAPPER = """
import atexit, sys
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("BENCH-VMHWM " + line.split()[1] + "\\n")
atexit.register(hwm)
from reconcile.cli import main
sys.argv = ["rlstate", *sys.argv[1:]]
main()
"""


def subprocess_runs(url: str, manifest: Path, runs: int) -> tuple[list[float], int, int]:
    """Wall seconds of each `rlstate plan`, its exit code, and the peak RSS (KiB) of any run."""
    env = rlstate_env()
    args = [sys.executable, "-c", WRAPPER, "plan", str(manifest), "--detailed-exitcode"]
    args += ["--api-url", url, "--api-key", TOKEN, "--out", str(manifest.parent / "plan.json")]
    times, peak, code = [], 0, 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        code = done.returncode
        if code not in (0, 2):
            raise SystemExit(f"rlstate plan failed ({code}): {done.stderr}")
        marks = [x for x in done.stderr.splitlines() if x.startswith("BENCH-VMHWM ")]
        peak = max(peak, int(marks[-1].split()[1]))
    return times, code, peak


def in_process(url: str, loaded: LoadedManifest) -> dict[str, Any]:
    """The same plan in this process, timed by phase (then once more under tracemalloc for
    the memory peak, which slows Python down too much to time it), with requests by route."""
    figures = _phases(url, loaded)
    tracemalloc.start()
    _phases(url, loaded)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    figures["peak_mib"] = peak / 2**20
    return figures


def _phases(url: str, loaded: LoadedManifest) -> dict[str, Any]:
    now = datetime.now(UTC)

    async def go() -> tuple[Any, float, dict[str, int]]:
        async with RunloopClient(url, TOKEN, lean=True) as client:
            t0 = time.perf_counter()
            live = await discover(client, loaded, now)
            return live, time.perf_counter() - t0, dict(client.stats.by_route)

    live, discover_s, routes = asyncio.run(go())
    t1 = time.perf_counter()
    plan = build_plan(loaded, live, now)
    t2 = time.perf_counter()
    render_plan_text(plan)
    plan_to_json(plan)
    t3 = time.perf_counter()
    return {
        "discover": discover_s,
        "build_plan": t2 - t1,
        "render": t3 - t2,
        "routes": routes,
        "actions": plan.counts(),
    }


def report(
    title: str,
    counts: dict[str, int],
    times: list[float],
    code: int,
    rss: int,
    inner: dict[str, Any],
) -> None:
    print(f"\n== {title}: {counts}")
    print(
        f"rlstate plan (subprocess): min {min(times):.2f} s,"
        f" median {statistics.median(times):.2f} s, max {max(times):.2f} s;"
        f" exit {code}; peak RSS {rss / 1024:.0f} MiB"
    )
    print(
        f"in process: discover {inner['discover']:.2f} s, build_plan {inner['build_plan']:.2f} s,"
        f" render {inner['render']:.2f} s; tracemalloc peak {inner['peak_mib']:.0f} MiB"
    )
    print(f"actions: {inner['actions'] or 'none (converged)'}")
    total = sum(inner["routes"].values())
    print(f"requests: {total}")
    for route, n in sorted(inner["routes"].items()):
        print(f"  {n:6d}  {route}")


def scenario(
    url: str,
    title: str,
    manifest: Path,
    per_series: int,
    runs: int,
    marked: bool,
    peer: bool = False,
    by_name: bool = False,
    latency: int = 0,
) -> None:
    control(url, "/_local/reset", {})  # which also turns faults off: latency is set after seeding
    loaded = load_manifest(manifest)
    ids = seed(url, loaded, per_series, marked)
    control(url, "/_local/faults", {"latency_ms": latency})
    counts = {kind: len(found) for kind, found in ids.items()}
    times, code, rss = subprocess_runs(url, manifest, runs)
    report(f"{title}, {latency} ms per answer", counts, times, code, rss, in_process(url, loaded))
    best = min(times)
    other = non_loopback_url(url) if by_name else None
    if other is not None:
        named, _, _ = subprocess_runs(other, manifest, runs)
        print(f"rlstate plan reached as {other}: min {min(named):.2f} s")
        best = max(best, min(named))
    if peer:
        peer_s, reads = refresh_peer(url, ids)
        print(
            f"refresh peer (one read per resource, 10 in flight): {peer_s:.2f} s, {reads} "
            f"requests; rlstate plan is {peer_s / best:.1f}x faster (slowest of its names)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prune", action="store_true", help="big series keep one fewer")
    parser.add_argument(
        "--unmarked", action="store_true", help="snapshots without rlstate.state=complete"
    )
    parser.add_argument("--latency-ms", type=int, default=50, help="added to every answer")
    parser.add_argument("--series-size", type=int, default=1000, help="snapshots per series")
    parser.add_argument("--no-peer", action="store_true", help="skip the refresh peer")
    parser.add_argument("--also-by-name", action="store_true", help="time a non-loopback URL")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rlstate-bench-manifests-"))
    (folder / "big").mkdir()
    (folder / "small").mkdir()
    with local_backend() as url:
        size = args.series_size
        keep = size - 1 if args.prune else size
        big = big_manifest(folder / "big", keep)
        title = "big stack" + (" (5 prunes)" if args.prune else " (converged)")
        title += ", snapshots unmarked" if args.unmarked else ""
        marked = not args.unmarked
        peer = not args.no_peer
        scenario(url, title, big, size, args.runs, marked, peer, args.also_by_name, args.latency_ms)
        small = small_manifest(folder / "small")
        small_title = "small stack (converged)"
        scenario(url, small_title, small, 5, args.runs, marked, latency=args.latency_ms)


if __name__ == "__main__":
    main()
