"""Chaos: the local server (`rlstate local serve`, a subprocess with its own data dir) SIGKILLed at
a seeded random moment of an apply, destroy or retain against it (under injected faults until
then), and started again on the same data dir after a random pause (0 to 2 s). The run ends by
itself (done or failed, never hung); the next apply converges; no snapshot is left in progress
and no devbox between statuses. A second server over a data dir in use is refused.

Every round is one seed (`seed-N`); CHAOS_ROUNDS and CHAOS_SEED choose how many and from where
(default 3 from seed 5000)."""

from __future__ import annotations

import subprocess
import time

import pytest
from chaos_support import Chaos, Round, Run, chaos_fixture, converge, each_seed, seeds

from tests.helpers import rlstate_argv, rlstate_env

SEEDS = seeds("CHAOS_ROUNDS", "CHAOS_SEED", 3, 5000)
SLOW_SNAPSHOTS = {"snapshot_extra_seconds": 0.5}  # widens the moments a snapshot is in progress


chaos = chaos_fixture("chaos-server")


@each_seed(SEEDS)
def test_a_server_killed_mid_run_and_restarted_on_its_data_loses_nothing(
    chaos: Chaos, seed: int
) -> None:
    plan = Round.from_seed(seed)
    api = chaos.server.api
    plan.prepare(api, chaos.work)
    api.control("/_local/speed", SLOW_SNAPSHOTS)
    api.control("/_local/faults", plan.faults)  # until the restart, which starts without
    run = Run.start(rlstate_argv(plan.args(), api=api), chaos.work)
    try:
        if plan.moment(run):
            chaos.server.kill()
            time.sleep(plan.pause)
            chaos.server.start()
    finally:
        run.finish(timeout=180)

    problems = converge(api, chaos.work, plan.scenario, chaos.foreign)

    assert not problems, f"{plan}, server down {plan.pause:.1f}s:\n" + "\n".join(problems)


@pytest.mark.timeout(60)
def test_a_second_server_over_a_data_dir_in_use_is_refused(chaos: Chaos) -> None:
    # Two servers over one data dir each kept records the other never saw: applies through
    # both made duplicates, and the next start loaded them all.
    data = str(chaos.server.data_dir)
    serve = rlstate_argv(["local", "serve", "--port", "0"])
    embedded = rlstate_argv(["plan", "retention.yaml"])
    second = subprocess.run(
        [*serve, "--data-dir", data], env=rlstate_env(), capture_output=True, text=True, timeout=120
    )
    beside = subprocess.run(
        embedded,
        cwd=chaos.work,
        env=rlstate_env({"RLSTATE_LOCAL_DIR": data}),
        capture_output=True,
        text=True,
        timeout=120,
    )

    for refused in (second, beside):
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"the data folder {data} is in use by another local server" in refused.stderr
