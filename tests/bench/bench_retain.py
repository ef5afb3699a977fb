"""Benchmark of `rlstate retain` on a series of 5,000 snapshots; prints a table, asserts little.

    python tests/bench/bench_retain.py [--snapshots 5000] [--keep 100] [--unmarked]
                                       [--latency-ms 50] [--direct]

`--latency-ms` (default 50) adds that much to every API answer, standing for the round trip to
the Runloop cloud (0: loopback speed). `--direct` leaves the counting proxy out (a threaded
Python proxy caps how many requests are in flight); rlstate's own summary counts then.

By default the snapshots carry `rlstate.state=complete`, as the ones rlstate takes do once it saw
them complete, so no status needs reading; `--unmarked` seeds them without it (as snapshots of
an interrupted run or of another tool), so every status is read before pruning.

A local backend runs in its own process; a recording proxy in front of it counts every request.
The series (metadata of stack `bench`, series `big`) is seeded through POST /_local/seed: the
snapshots answer /status as complete and can be deleted. Cases, each on a freshly seeded
backend: `rlstate retain --dry-run`, a real `rlstate retain` that prunes all but the newest
KEEP (keep: {last: KEEP}), the same command again (nothing to do), and a plain script doing the
documentation's keep-latest loop with the official SDK (list, then delete one by one; here it
keeps the newest KEEP too). Wall time includes the Python start-up of each command.
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
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from retain_support import recording_proxy  # noqa: E402

from tests.helpers import rlstate_env  # noqa: E402

TOKEN = "bench-token-not-secret"
MARKED = "--unmarked" not in sys.argv  # seed as rlstate's own (status known) or not
HOUR_MS = 3_600_000

SDK_LOOP = """
import sys, time
from runloop_api_client import Runloop
url, token, devbox, keep = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start = time.perf_counter()
client = Runloop(base_url=url, bearer_token=token)
snaps = list(client.devboxes.disk_snapshots.list(devbox_id=devbox, limit=5000))
snaps.sort(key=lambda s: s.create_time_ms, reverse=True)
for old in snaps[keep:]:
    client.devboxes.disk_snapshots.delete(old.id)
print(f"deleted {len(snaps) - keep} in {time.perf_counter() - start:.2f}s")
"""


@dataclass
class Row:
    case: str
    seconds: float
    requests: Counter[str]
    left: int
    note: str = ""

    def cells(self) -> list[str]:
        r = self.requests
        other = sum(r.values()) - r["list"] - r["status"] - r["delete"]
        return [
            self.case,
            f"{self.seconds:.2f}",
            str(sum(r.values())),
            str(r["list"]),
            str(r["status"]),
            str(r["delete"]),
            str(other),
            str(self.left),
            self.note,
        ]


def classify(requests: list[tuple[str, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for method, path in requests:
        if method == "GET" and path.endswith("/status"):
            out["status"] += 1
        elif method == "GET":
            out["list"] += 1
        elif path.endswith("/delete"):
            out["delete"] += 1
        else:
            out[f"{method} {path}"] += 1
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def backend(data_dir: Path) -> Any:
    """`rlstate local serve` in its own process; yields (url, control client)."""
    port = _free_port()
    argv = [sys.executable, "-m", "reconcile", "local", "serve", "--port", str(port)]
    argv += ["--data-dir", str(data_dir), "--token", TOKEN, "--transition-seconds", "0.05"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=300) as control:
            for _ in range(300):
                try:
                    control.get("/_local/info").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            yield url, control
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def seed(control: httpx.Client, count: int) -> str:
    """A fresh backend with one running devbox and `count` complete snapshots of it, one an
    hour back from now, carrying the series' metadata. Returns the devbox id."""
    control.post("/_local/reset", json={}).raise_for_status()
    devbox = control.post("/v1/devboxes", json={"name": "big-source"}).json()["id"]
    while control.get(f"/v1/devboxes/{devbox}").json()["status"] != "running":
        time.sleep(0.02)
    now = int(control.get("/_local/clock").json()["now_ms"])
    meta = {"rlstate.stack": "bench", "rlstate.kind": "snapshot", "rlstate.series": "big"}
    if MARKED:
        meta["rlstate.state"] = "complete"  # as rlstate leaves the snapshots it saw complete
    items = [
        {"source_devbox_id": devbox, "create_time_ms": now - (n + 1) * HOUR_MS, "metadata": meta}
        for n in range(count)
    ]
    control.post("/_local/seed", json={"snapshots": items}).raise_for_status()
    return str(devbox)


def left(control: httpx.Client, devbox: str) -> int:
    page = control.get("/v1/devboxes/disk_snapshots", params={"devbox_id": devbox, "limit": 5000})
    return len(page.json()["snapshots"])


def timed(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = rlstate_env()
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:5])} failed:\n{done.stdout[-2000:]}{done.stderr}")
    return elapsed, done


def rlstate_case(case: str, url: str, cwd: Path, *flags: str) -> tuple[float, dict[str, Any]]:
    # --allow-shrink: pruning 98% of a series at once is this benchmark's point (max_prune)
    argv = [sys.executable, "-m", "reconcile", "retain", "--json", "--allow-shrink", *flags]
    seconds, done = timed([*argv, "--api-url", url, "--api-key", TOKEN], cwd)
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["event"] == "summary" and summary["result"] == "ok", summary
    return seconds, summary


def measure(count: int, keep: int, work: Path, latency_ms: int, direct: bool) -> list[Row]:
    rows = []
    with backend(work / "data") as (url, control), recording_proxy(url) as (proxied, log):
        # --direct: no proxy in the way (its threads cap concurrency); counts by rlstate's own
        proxy = url if direct else proxied
        delay = {"latency_ms": latency_ms}  # after each seed: a reset turns faults off
        devbox = seed(control, count)
        control.post("/_local/faults", json=delay).raise_for_status()
        (work / "rlstate.yaml").write_text(
            f"version: 1\nstack: bench\nsnapshots:\n  big:\n    devbox: {devbox}\n"
            f"    keep: {{last: {keep}}}\n"
        )
        for case, flags in (("rlstate retain --dry-run", ("--dry-run",)), ("rlstate retain", ())):
            log.take()
            seconds, summary = rlstate_case(case, proxy, work, *flags)
            note = f"{'would prune' if flags else 'pruned'} {summary['pruned']}"
            if direct:
                note += f"; {summary['requests']} requests, peak {summary['peak_concurrency']}"
            rows.append(Row(case, seconds, classify(log.take()), left(control, devbox), note))
        seconds, summary = rlstate_case("again", proxy, work)
        rows.append(Row("rlstate retain (again)", seconds, classify(log.take()), keep, "no-op"))
        devbox = seed(control, count)
        control.post("/_local/faults", json=delay).raise_for_status()
        log.take()
        argv = [sys.executable, "-c", SDK_LOOP, proxy, TOKEN, devbox, str(keep)]
        seconds, done = timed(argv, work)
        note = f"SDK loop: {done.stdout.strip()}"
        rows.append(
            Row("plain SDK script", seconds, classify(log.take()), left(control, devbox), note)
        )
    return rows


HEADERS = ["case", "wall s", "requests", "lists", "status", "deletes", "other", "left", "note"]


def print_table(rows: list[Row]) -> None:
    table = [HEADERS, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=5000)
    parser.add_argument("--keep", type=int, default=100)
    parser.add_argument("--unmarked", action="store_true", help="seed without rlstate.state")
    parser.add_argument("--latency-ms", type=int, default=50, help="added to every answer")
    parser.add_argument("--direct", action="store_true", help="no counting proxy in between")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-retain-") as folder:
        rows = measure(args.snapshots, args.keep, Path(folder), args.latency_ms, args.direct)
    print(
        f"\nretain on one series of {args.snapshots} snapshots, keep: {{last: {args.keep}}}, "
        f"{args.latency_ms} ms per answer\n"
    )
    print_table(rows)
    pruning = next(r for r in rows if r.case == "rlstate retain")
    loop = next(r for r in rows if r.case == "plain SDK script")
    print(f"\nrlstate retain pruned {loop.seconds / pruning.seconds:.1f}x faster than the SDK loop")


if __name__ == "__main__":
    main()
