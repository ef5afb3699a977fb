"""Start-up and request throughput of the local server, over HTTP/1.1 and HTTP/2 (prior knowledge).

Used by bench_server.py (`--protocols` prints only these rows). Throughput is measured against
`rlstate local serve` in its own process. Asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from bench_localapi import Row

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys, time
from pathlib import Path
from reconcile.localapi import LocalConfig, start_in_thread
import httpx
server = start_in_thread(LocalConfig(data_dir=Path(sys.argv[1]), port=0))
headers = {"Authorization": f"Bearer {server.token}"}
assert httpx.get(server.url + "/v1/devboxes", headers=headers).status_code == 200
print("ready", flush=True)
server.stop()
"""


def measure_startup(runs: int) -> Row:
    """Wall time from starting a Python process to the embedded backend's first answer; the note
    gives the child's median CPU time to the end (user + system), which moves less under load."""
    seconds, cpu = [], []
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        for n in range(runs + 1):
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, f"{tmp}/d{n}"],
                cwd=REPO,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()
            elapsed = time.perf_counter() - start
            _, _, usage = os.wait4(proc.pid, 0)
            if line.strip() != "ready":
                raise SystemExit("the embedded backend did not start")
            if n:  # the first run fills the bytecode caches
                seconds.append(elapsed)
                cpu.append(usage.ru_utime + usage.ru_stime)
    note = f"CPU {statistics.median(cpu) * 1000:.0f} ms median"
    return Row("start-up", "python → embedded backend answers (import + start)", seconds, note)


async def _burst(client: httpx.AsyncClient, total: int, parallel: int) -> float:
    """Seconds for `total` GETs, `parallel` in flight at once."""
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            reply = await client.get("/v1/devboxes", params={"limit": 1})
            if reply.status_code != 200:
                raise SystemExit(f"GET /v1/devboxes: {reply.status_code}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(parallel)))
    return time.perf_counter() - start


async def _protocol(url: str, token: str, http2: bool, total: int, parallel: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=parallel)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, http1=not http2, http2=http2, limits=limits
    ) as client:
        await _burst(client, 20, 1)  # warm-up (and: does the server speak it at all)
        return await _burst(client, total, parallel)


@contextmanager
def served() -> Iterator[tuple[str, str]]:
    """`rlstate local serve` in its own process (the client then has this one to itself)."""
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        argv = [sys.executable, "-m", "reconcile", "local", "serve", "--port", "0"]
        argv += ["--data-dir", tmp, "--token", "bench-token"]
        proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            match = re.search(r"at (http://\S+) ", proc.stdout.readline())
            if match is None:
                raise SystemExit("local serve did not start")
            yield match.group(1), "bench-token"
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def measure_throughput(runs: int) -> list[Row]:
    """Requests per second of a small GET to `local serve`, one at a time and 16 at once (one
    connection each for HTTP/1.1, streams of one connection for HTTP/2), per protocol."""
    total = 200
    rows = []
    with served() as (url, token):
        for http2, name in ((False, "HTTP/1.1"), (True, "HTTP/2 prior knowledge")):
            for parallel in (1, 16):
                label = f"{total} GETs, {parallel} at a time, {name}"
                try:
                    seconds = [
                        asyncio.run(_protocol(url, token, http2, total, parallel))
                        for _ in range(runs)
                    ]
                except httpx.HTTPError as error:
                    rows.append(Row("throughput", label, [], f"fails: {type(error).__name__}"))
                    continue
                best = total / min(seconds)
                rows.append(Row("throughput", label, seconds, f"{best:,.0f} req/s best"))
    return rows
