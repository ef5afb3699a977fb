"""SIGINT and SIGTERM at each phase of a run end it cleanly: one line instead of a traceback, the
stack's lock released, nothing started after the signal, operations in flight given a bounded
grace (RLSTATE_INTERRUPT_GRACE) and then aborted, and a second run afterwards works."""

from __future__ import annotations

import fcntl
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chaos_support import (
    DAY,
    FAULTS_OFF,
    REPO,
    Run,
    ServerProcess,
    rlstate,
    workspace,
)
from chaos_world import Api, World, settle

from tests.helpers import rlstate_argv, rlstate_env

# Seconds a snapshot takes in the tests that signal while one runs: it must still be running
# when the signal (and a 0.2 s grace) have come, even on a machine busy for seconds at a time.
SLOW_SNAPSHOT = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    proc = ServerProcess(tmp_path_factory.mktemp("chaos-interrupts") / "data")
    api = proc.start()
    try:
        yield api
    finally:
        proc.stop()


@pytest.fixture
def api(server: Api) -> Api:
    server.control("/_local/reset", {})
    return server


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return workspace(tmp_path / "work")


def _lock(work: Path, stack: str) -> Path:
    return work / ".rlstate" / f"{stack}.lock"


def _wait_for(what: str, ready: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        time.sleep(0.01)


@dataclass(frozen=True)
class Planning:
    """An interrupt while the run reads the live state (each API answer takes 1.5 s)."""

    args: tuple[str, ...]
    stack: str
    signum: int


PLANNING = [
    Planning(("apply", "combined.yaml", "--yes"), "combined", signal.SIGINT),
    Planning(("apply", "combined.yaml", "--yes"), "combined", signal.SIGTERM),
    Planning(("destroy", "retention.yaml", "--yes"), "retention", signal.SIGTERM),
    Planning(("retain", "retention.yaml"), "retention", signal.SIGINT),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "case", PLANNING, ids=[f"{c.args[0]}-{signal.Signals(c.signum).name}" for c in PLANNING]
)
def test_an_interrupt_while_planning_exits_with_one_line_and_the_lock_released(
    api: Api, work: Path, case: Planning
) -> None:
    if case.args[0] != "apply":
        assert rlstate(api, work, "apply", case.args[1], "--yes").returncode == 0
    before = World.read(api).of(case.stack)
    api.control("/_local/faults", {"latency_ms": 1500})
    run = Run.start(rlstate_argv(case.args, api=api), work)
    _wait_for("taking the lock", _lock(work, case.stack).exists)
    run.proc.send_signal(case.signum)
    code = run.finish()
    api.control("/_local/faults", FAULTS_OFF)

    name = signal.Signals(case.signum).name
    assert (code, run.stderr.read_text().strip()) == (128 + case.signum, f"interrupted by {name}")
    assert not _lock(work, case.stack).exists()
    after = World.read(api).of(case.stack)
    assert [d["id"] for d in after.devboxes_up()] == [d["id"] for d in before.devboxes_up()]
    assert rlstate(api, work, *case.args).returncode == 0


@pytest.mark.timeout(120)
def test_in_flight_work_that_outlives_the_grace_after_sigterm_is_aborted(
    api: Api, work: Path
) -> None:
    api.control("/_local/speed", {"snapshot_extra_seconds": SLOW_SNAPSHOT})
    environ = rlstate_env({"RLSTATE_INTERRUPT_GRACE": "0.2"})
    args = rlstate_argv(["apply", "retention.yaml", "--yes", "--json"], api=api)
    run = Run.start(args, work, environ)
    assert run.read_until(match=lambda line: "in_progress" in line), run.output()
    run.proc.send_signal(signal.SIGTERM)
    code = run.finish()

    events = run.events()
    assert code == 1, run.output()
    notices = [e["message"] for e in events if e["event"] == "notice"]
    assert any("did not finish within 0.2s of the interrupt" in n for n in notices), notices
    failures = events[-1]["failures"]
    assert [f["id"] for f in failures] == ["snapshot snapshot.nightly"]
    assert failures[0]["reason"].startswith("aborted: operations in flight did not finish")
    assert not _lock(work, "retention").exists()
    api.control("/_local/speed", {"snapshot_extra_seconds": 0})
    settle(api)
    assert rlstate(api, work, "apply", "retention.yaml", "--yes").returncode == 0
    assert rlstate(api, work, "plan", "retention.yaml", "--detailed-exitcode").returncode == 0


@pytest.mark.timeout(120)
def test_retain_interrupted_while_its_snapshot_runs_still_ends_with_a_summary(
    api: Api, work: Path
) -> None:
    api.control("/_local/clock", {"offset_seconds": -DAY})  # made yesterday: one is due now
    assert rlstate(api, work, "apply", "retention.yaml", "--yes").returncode == 0
    api.control("/_local/clock", {"offset_seconds": 0})
    known = {s["id"] for s in World.read(api).snapshots}
    api.control("/_local/speed", {"snapshot_extra_seconds": SLOW_SNAPSHOT})
    run = Run.start(rlstate_argv(["retain", "retention.yaml", "--json"], api=api), work)
    _wait_for("a new snapshot", lambda: bool({s["id"] for s in World.read(api).snapshots} - known))
    run.proc.send_signal(signal.SIGTERM)
    code = run.finish()

    summary = json.loads(run.lines[-1])
    assert code == 128 + signal.SIGTERM, run.output()
    assert (summary["event"], summary["result"]) == ("summary", "error")
    assert summary["error"] == "interrupted by SIGTERM"
    assert not _lock(work, "retention").exists()
    api.control("/_local/speed", {"snapshot_extra_seconds": 0})
    settle(api)
    assert rlstate(api, work, "retain", "retention.yaml").returncode == 0


@pytest.mark.timeout(120)
def test_destroy_aborted_by_a_second_ctrl_c_during_its_final_snapshot_can_run_again(
    api: Api, work: Path
) -> None:
    assert rlstate(api, work, "apply", "combined.yaml", "--yes").returncode == 0
    api.control("/_local/speed", {"snapshot_extra_seconds": SLOW_SNAPSHOT})
    run = Run.start(rlstate_argv(["destroy", "combined.yaml", "--yes", "--json"], api=api), work)
    assert run.read_until(match=lambda line: "in_progress" in line), run.output()
    run.strike(0.0, signal.SIGINT, signal.SIGINT)
    code = run.finish()

    assert code == 1, run.output()
    reasons = {f["reason"] for f in run.events()[-1]["failures"]}
    assert reasons == {"aborted by a second interrupt while in flight"}
    assert not _lock(work, "combined").exists()
    api.control("/_local/speed", {"snapshot_extra_seconds": 0})
    settle(api)
    assert rlstate(api, work, "destroy", "combined.yaml", "--yes").returncode == 0
    assert World.read(api).of("combined").devboxes_up() == []


TAKER = """
import sys
from pathlib import Path
from reconcile.apply.lock import stack_lock
from reconcile.errors import Interrupted
try:
    with stack_lock(Path(sys.argv[1]), "demo", "apply"):
        print("held", flush=True)
except Interrupted as stop:
    print(stop, flush=True)
"""


@pytest.mark.timeout(60)
@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs /proc/PID/wchan")
def test_a_signal_while_the_lock_is_being_taken_lets_it_go_once_taken(tmp_path: Path) -> None:
    # A signal while the lock file was being written left it behind (seen under load); now
    # a signal during taking (or letting go) waits for that step, then interrupts the run.
    folder = tmp_path / ".rlstate"
    folder.mkdir()
    with open(folder / ".lock-guard", "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # the taker blocks inside acquire, on this guard
        taker = subprocess.Popen(
            [sys.executable, "-c", TAKER, str(folder)],
            cwd=REPO,
            env=rlstate_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        wchan = Path(f"/proc/{taker.pid}/wchan")
        _wait_for("the taker to wait for the guard", lambda: "lock" in wchan.read_text())
        taker.send_signal(signal.SIGTERM)
        fcntl.flock(guard, fcntl.LOCK_UN)
    out, _ = taker.communicate(timeout=60)

    assert out.splitlines() == ["interrupted by SIGTERM"]  # never entered the block
    assert not (folder / "demo.lock").exists()
