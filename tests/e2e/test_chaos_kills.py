"""Chaos: `rlstate apply`, `destroy` and `retain` SIGKILLed at seeded random moments while the
API fails a tenth to a third of its answers (errors, dropped connections, lost answers,
latency), on stacks with objects, setup, snapshots, restores with replicas, and edits that
force replacements. After each kill, one clean apply converges: nothing left to plan, no
duplicate, nothing half-made or stuck, and what rlstate does not own untouched.

Every round is one seed (`seed-N` ids; rerun one with `-k seed-N`). CHAOS_ROUNDS and
CHAOS_SEED choose how many rounds and from where (default 6 from seed 1000)."""

from __future__ import annotations

import signal

import pytest
from chaos_support import (
    FAULTS_OFF,
    SCENARIOS,
    Chaos,
    Round,
    Run,
    chaos_fixture,
    converge,
    each_seed,
    rlstate,
    seeds,
)
from chaos_world import World

from tests.helpers import rlstate_argv

SEEDS = seeds("CHAOS_ROUNDS", "CHAOS_SEED", 6, 1000)


chaos = chaos_fixture("chaos-kills")


@each_seed(SEEDS)
def test_a_run_killed_at_a_random_moment_under_faults_converges_on_the_next_apply(
    chaos: Chaos, seed: int
) -> None:
    plan = Round.from_seed(seed)
    plan.prepare(chaos.api, chaos.work)
    chaos.api.control("/_local/faults", plan.faults)
    run = Run.start(rlstate_argv(plan.args(), api=chaos.api), chaos.work)
    try:
        plan.strike(run, signal.SIGKILL)
    finally:
        run.finish()

    problems = converge(chaos.api, chaos.work, plan.scenario, chaos.foreign)

    assert not problems, f"{plan}:\n" + "\n".join(problems)


@pytest.mark.timeout(120)
def test_a_duplicate_a_killed_run_left_booting_is_snapshotted_once_up_then_deleted(
    chaos: Chaos,
) -> None:
    # A killed run's create may leave a second builder that is still booting when the next
    # apply deletes it; its final snapshot (snapshot_before_destroy) was refused with a 400
    # ("only running or suspended ones have a disk") and the apply failed.
    api, work, combined = chaos.api, chaos.work, SCENARIOS[0]
    api.control("/_local/faults", FAULTS_OFF)
    assert rlstate(api, work, "apply", combined.manifest, "--yes").returncode == 0
    builder = World.read(api).of("combined").by_name()["builder"]
    metadata = {k: v for k, v in builder["metadata"].items() if k != "rlstate.ready"}
    api.control("/_local/speed", {"transition_seconds": 1.5})
    try:
        with api.client() as c:
            c.post(
                "/v1/devboxes", json={"name": "builder", "metadata": metadata}
            ).raise_for_status()
        applied = rlstate(api, work, "apply", combined.manifest, "--yes")
    finally:
        api.control("/_local/speed", {"transition_seconds": 0.05})

    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr
    assert "final snapshot snp_" in applied.stdout
    assert converge(api, work, combined, chaos.foreign) == []
