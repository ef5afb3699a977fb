"""Benchmark of the local server over HTTP; prints a table, asserts nothing.

    python tests/bench/bench_server.py [--runs N] [--quick]

Rows: devbox create → running (create + wait_for_status long-poll, and create_and_await_running)
at the default transition speed and with /_local/speed 0; a synchronous `execute` of `true` and of
`echo hi` over a kept-alive connection; the sandboxed `true` it contains (no HTTP; bubblewrap and
plain subprocess, from bench_localapi); listing 5,000 devboxes (one page of 5,000 over HTTP, the
same through the SDK's models, the first default page of 20); and what the first status poll after
snapshot_disk_async says for a small disk. Disk snapshot/restore figures are in bench_localapi.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_localapi import Row, measure_bare_true, measure_sandbox_true, print_table
from bench_protocols import measure_startup, measure_throughput
from runloop_api_client import Runloop

from reconcile.localapi import LocalConfig, RunningServer, start_in_thread

LISTED = 5000


def timed(fn: Callable[[], Any], runs: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def ok(reply: httpx.Response) -> dict[str, Any]:
    if reply.status_code != 200:
        raise SystemExit(f"{reply.request.method} {reply.request.url.path}: {reply.text}")
    data: dict[str, Any] = reply.json()
    return data


def measure_boot(api: httpx.Client, label: str, runs: int) -> list[Row]:
    def create_then_wait() -> None:
        devbox = ok(api.post("/v1/devboxes", json={}))
        wait = {"statuses": ["running"], "timeout_seconds": 30}
        assert (
            ok(api.post(f"/v1/devboxes/{devbox['id']}/wait_for_status", json=wait))["status"]
            == "running"
        )

    def create_and_await() -> None:
        devbox = ok(api.post("/v1/devboxes/create_and_await_running", json={}))
        assert devbox["status"] == "running"

    return [
        Row(
            "create → running", f"create + wait_for_status ({label})", timed(create_then_wait, runs)
        ),
        Row(
            "create → running", f"create_and_await_running ({label})", timed(create_and_await, runs)
        ),
    ]


def measure_execute(api: httpx.Client, runs: int) -> list[Row]:
    devbox = ok(api.post("/v1/devboxes/create_and_await_running", json={}))
    rows = []
    for command, expected in (("true", ""), ("echo hi", "hi\n")):

        def once(command: str = command, expected: str = expected) -> None:
            body = {"command": command, "command_id": None, "optimistic_timeout": 25}
            view = ok(api.post(f"/v1/devboxes/{devbox['id']}/execute", json=body))
            assert (view["status"], view["exit_status"], view["stdout"]) == (
                "completed",
                0,
                expected,
            ), view

        rows.append(Row("execute", f"sync execute `{command}` round trip", timed(once, runs)))
    return rows


def measure_listing(server: RunningServer, api: httpx.Client, runs: int) -> list[Row]:
    ok(api.post("/_local/seed", json={"devboxes": [{"name": f"b{n}"} for n in range(LISTED)]}))
    size = len(api.get("/v1/devboxes", params={"limit": LISTED}).content)

    def page(limit: int, total: bool) -> Callable[[], None]:
        params = {"limit": limit, "include_total_count": str(total).lower()}
        return lambda: ok(api.get("/v1/devboxes", params=params))

    sdk = Runloop(base_url=server.url, bearer_token=server.token, max_retries=0)

    def sdk_page() -> None:
        assert len(sdk.devboxes.list(limit=LISTED).devboxes) == LISTED

    try:
        return [
            Row(
                "list",
                f"GET {LISTED} devboxes, one page",
                timed(page(LISTED, True), runs),
                f"{size / 1e6:.1f} MB",
            ),
            Row("list", "same, include_total_count=false", timed(page(LISTED, False), runs)),
            Row("list", f"SDK devboxes.list(limit={LISTED}) → models", timed(sdk_page, runs)),
            Row("list", f"first page of 20 out of {LISTED}", timed(page(20, True), runs)),
        ]
    finally:
        sdk.close()


def measure_first_snapshot_poll(api: httpx.Client, runs: int) -> Row:
    """How long snapshot_disk_async takes to answer, and how often the first poll says complete."""
    devbox = ok(api.post("/v1/devboxes/create_and_await_running", json={}))
    body = {"file_path": "data.txt", "contents": "x" * 100_000}
    ok(api.post(f"/v1/devboxes/{devbox['id']}/write_file_contents", json=body))
    first: list[str] = []

    def once() -> None:
        snapshot = ok(api.post(f"/v1/devboxes/{devbox['id']}/snapshot_disk_async", json={}))
        status = ok(api.get(f"/v1/devboxes/disk_snapshots/{snapshot['id']}/status"))["status"]
        first.append(status)
        while status == "in_progress":
            time.sleep(0.01)
            status = ok(api.get(f"/v1/devboxes/disk_snapshots/{snapshot['id']}/status"))["status"]

    seconds = timed(once, runs, warmup=0)
    note = f"first poll complete in {first.count('complete')}/{len(first)}"
    return Row("snapshot", "snapshot_disk_async + first status poll (100 kB disk)", seconds, note)


class _Done(Exception):
    """--protocols: the rows asked for are measured."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per HTTP row (default 20)")
    parser.add_argument("--quick", action="store_true", help="few runs (smoke test)")
    parser.add_argument(
        "--protocols", action="store_true", help="only start-up and HTTP/1.1 + HTTP/2 throughput"
    )
    args = parser.parse_args(argv)
    runs = 3 if args.quick else args.runs
    base = Path(tempfile.mkdtemp(prefix="bench-server-"))
    rows: list[Row] = []
    mode = "?"
    try:
        rows.append(measure_startup(runs))
        rows += measure_throughput(max(3, runs // 4))
        if args.protocols:
            raise _Done
        config = LocalConfig(data_dir=base / "data", port=0)
        with start_in_thread(config) as server:
            headers = {"Authorization": f"Bearer {server.token}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
                mode = ok(api.get("/_local/info"))["sandbox_mode"]
                rows += measure_boot(api, f"transitions {config.transition_seconds:g} s", runs)
                ok(api.post("/_local/speed", json={"transition_seconds": 0}))
                rows += measure_boot(api, "/_local/speed 0", runs)
                rows += measure_execute(api, runs * 5)
                rows.append(measure_first_snapshot_poll(api, runs))
                rows += measure_listing(server, api, runs)
    except _Done:
        pass
    else:
        modes = ["bubblewrap", "subprocess"] if shutil.which("bwrap") else ["subprocess"]
        rows += [measure_sandbox_true(mode, runs * 5, base) for mode in modes]
        rows.append(measure_bare_true(runs * 5))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"cores={os.cpu_count()} python={sys.version.split()[0]} runs={runs} load={load}"
        f" server sandbox={mode}"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
