"""Benchmark of onboarding an account: `rlstate generate`, the plan and the adopting apply, and
the plan after it; prints requests (counted by a recording proxy) and wall times.

    python tests/bench/bench_generate.py [--devboxes 30] [--snapshots 200] [--blueprints 3]

A local backend runs in this process (in a thread); the official SDK fills it as a script
would (blueprints from a Dockerfile or on the first one with setup commands, devboxes started
from them, snapshots of the first 20 devboxes, two devboxes suspended); then each `rlstate`
command runs as a subprocess through the proxy (generate declares and imports the blueprints).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from retain_support import mutating, recording_proxy  # noqa: E402
from runloop_api_client import Runloop  # noqa: E402
from runloop_api_client.lib.polling import PollingConfig  # noqa: E402

from reconcile.localapi import LocalConfig, start_in_thread  # noqa: E402
from tests.helpers import ApiAt, run_rlstate  # noqa: E402

FAST = PollingConfig(interval_seconds=0.05, max_attempts=600)


def fill(client: Runloop, devboxes: int, snapshots: int, blueprints: int) -> None:
    build = client.blueprints.create_and_await_build_complete
    made = [
        build(
            name="base-0",
            dockerfile="FROM ubuntu:22.04\nARG V=1\nRUN echo $V > /home/user/V\n",
            build_args={"V": "2"},
            polling_config=FAST,
        )
    ]
    made += [  # the others on the first one, each with its own setup
        build(
            name=f"base-{n}",
            base_blueprint_id=made[0].id,
            system_setup_commands=[f"echo {n} > /home/user/N"],
            polling_config=FAST,
        )
        for n in range(1, blueprints)
    ]
    ids = [
        client.devboxes.create_and_await_running(
            name=f"svc-{i}", blueprint_id=made[i % blueprints].id, metadata={"team": f"t{i % 3}"}
        ).id
        for i in range(devboxes)
    ]
    for n in range(snapshots):
        client.devboxes.snapshot_disk(ids[n % min(20, devboxes)], name=f"manual-{n}")
    for box_id in ids[-2:]:
        client.devboxes.suspend(box_id)
        client.devboxes.await_suspended(box_id, polling_config=FAST)


def timed(api: ApiAt, cwd: Path, *args: str) -> tuple[str, float]:
    start = time.perf_counter()
    done = run_rlstate(args, cwd=cwd, api=api, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"rlstate {' '.join(args)} failed: {done.stderr}")
    return done.stdout, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devboxes", type=int, default=30)
    parser.add_argument("--snapshots", type=int, default=200)
    parser.add_argument("--blueprints", type=int, default=3)
    opts = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    server = start_in_thread(
        LocalConfig(data_dir=folder / "data", port=0, token="bench", transition_seconds=0.05)
    )
    try:
        fill(Runloop(base_url=server.url, bearer_token="bench"), **vars(opts))
        work = folder / "work"
        work.mkdir()
        with recording_proxy(server.url) as (url, log):
            api = ApiAt(url, "bench")
            rows = []
            text, took = timed(api, work, "generate", "--stack", "onboard")
            (work / "rlstate.yaml").write_text(text)
            rows.append(("generate", log.take(), took))
            for name, args in (
                ("plan", ("plan",)),
                ("apply (adopts)", ("apply", "--yes", "-p", "20", "rlstate.yaml")),
                ("plan after", ("plan", "--detailed-exitcode")),
            ):
                _, took = timed(api, work, *args)
                rows.append((name, log.take(), took))
        print(f"{'command':<16} {'requests':>8} {'writes':>7} {'wall s':>7}  most requested")
        for name, requests, took in rows:
            common = Counter(f"{m} {p.split('/')[2]}" for m, p in requests).most_common(2)
            print(
                f"{name:<16} {len(requests):>8} {len(mutating(requests)):>7} {took:>7.2f}  {common}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
