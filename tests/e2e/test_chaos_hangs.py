"""No run hangs: several applies on different stacks against one slow, faulty server all end and
converge; and an apply on the embedded backend that is interrupted while the backend captures a
huge disk ends without waiting for that capture (it used to wait for every queued chunk)."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from chaos_support import (
    FAULTS_OFF,
    SCENARIOS,
    Run,
    ServerProcess,
    random_faults,
    workspace,
)
from chaos_world import Api, problems, settle

from tests.helpers import rlstate_argv, rlstate_env

STACKS = ("a", "b", "c")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    proc = ServerProcess(tmp_path_factory.mktemp("chaos-hangs") / "data", transition_seconds=0.2)
    api = proc.start()
    try:
        yield api
    finally:
        proc.stop()


def _own_copy(tmp_path: Path, prefix: str) -> Path:
    """The example manifests with their stacks renamed `<prefix>-<stack>`."""
    work = workspace(tmp_path / prefix)
    for scenario in SCENARIOS:
        path = work / scenario.manifest
        path.write_text(path.read_text().replace("\nstack: ", f"\nstack: {prefix}-", 1))
    return work


def _all_at_once(server: Api, works: list[Path], *args: str) -> None:
    """Runs `rlstate ARGS` in every folder at once; each must end, and succeed."""
    runs = [Run.start(rlstate_argv([*args, "--yes", "--json"], api=server), work) for work in works]
    codes = [run.finish(timeout=150) for run in runs]
    assert codes == [0] * len(runs), "\n".join(run.output()[-2000:] for run in runs)


@pytest.mark.timeout(300)
def test_concurrent_runs_on_different_stacks_of_a_slow_faulty_server_all_end(
    server: Api, tmp_path: Path
) -> None:
    scenario = SCENARIOS[0]  # combined: objects, setup, a snapshot, restores
    works = [_own_copy(tmp_path, prefix) for prefix in STACKS]
    stacks = [f"{prefix}-{scenario.expected.stack}" for prefix in STACKS]
    # every run must succeed, so no snapshot may fail: slow answers and retried errors only
    faults = {**random_faults(random.Random(7)), "latency_ms": 150, "rate": 0.15}
    faults["snapshot_error_rate"] = 0.0
    server.control("/_local/faults", faults)
    _all_at_once(server, works, "apply", scenario.manifest)
    server.control("/_local/faults", FAULTS_OFF)
    world = settle(server)
    for stack in stacks:
        assert problems(world, replace(scenario.expected, stack=stack)) == [], stack

    server.control("/_local/faults", faults)
    _all_at_once(server, works, "destroy", scenario.manifest)
    server.control("/_local/faults", FAULTS_OFF)
    world = settle(server)
    assert [world.of(stack).devboxes_up() for stack in stacks] == [[], [], []]


SPARSE = """version: 1
stack: sparse
devboxes:
  db:
    setup:
      - truncate -s 400G sparse.img
snapshots:
  nightly:
    devbox: db
    keep: {last: 1}
"""


@pytest.mark.timeout(120)
def test_an_interrupted_embedded_apply_does_not_wait_for_the_capture_it_abandoned(
    tmp_path: Path,
) -> None:
    # Capturing 400 GB of holes takes a minute of reading zeros; the abandoned capture must
    # stop with the embedded backend instead of holding the process that long (45 s here).
    (tmp_path / "rlstate.yaml").write_text(SPARSE)
    environ = {
        **rlstate_env(),
        "RLSTATE_LOCAL_DIR": str(tmp_path / "local"),
        "RLSTATE_INTERRUPT_GRACE": "0",
    }
    argv = rlstate_argv([])
    run = Run.start([*argv, "apply", "--json", "--yes", "rlstate.yaml"], tmp_path, environ)
    assert run.read_until(match=lambda line: "in_progress" in line), run.output()
    # Strike once the capture has queued the file's 100,000 chunk jobs (about a second).
    assert run.strike(1.5, signal.SIGTERM), run.output()
    code = run.finish(timeout=45)

    assert code == 1, run.output()
    assert run.events()[-1]["failures"][0]["id"] == "snapshot snapshot.nightly"
    assert "Traceback" not in run.output()
    again = Run.start([*argv, "destroy", "--json", "--yes", "rlstate.yaml"], tmp_path, environ)
    assert again.finish(timeout=60) == 0, again.output()
    assert again.events()[-1]["result"] == "converged"
