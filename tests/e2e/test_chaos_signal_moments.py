"""SIGINT or SIGTERM at any moment of any command, from the interpreter's start to its exit.

Each round (one seed) starts a real `python -m reconcile` (plan, apply, destroy, retain, status
or validate, against a `local serve` subprocess or the embedded backend; or `local serve`
itself) and signals it after a seeded delay drawn from zero to how long that command takes.
Whenever the signal lands, the run ends with at most one "interrupted by" line, never a
traceback nor an "Exception ignored" report, the stack's lock released, and exit status 128+N
(or the command's own status when it had finished its work first).

SIGNAL_ROUNDS and SIGNAL_SEED choose how many rounds and from where (default 24 from 7000).
A signal that lands before the entry point has taken the signals over (in the interpreter's own
start-up) meets Python's default handling: killed by it, and that round only checks the lock.
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chaos_support import Run, ServerProcess, each_seed, free_port, seeds, workspace
from chaos_world import Api

from tests.helpers import REPO, rlstate_argv, rlstate_env

SEEDS = seeds("SIGNAL_ROUNDS", "SIGNAL_SEED", 24, 7000)
MANIFEST = "retention.yaml"
COMMANDS = {
    "plan": ("plan", MANIFEST),
    "apply": ("apply", MANIFEST, "--yes"),
    "destroy": ("destroy", MANIFEST, "--yes"),
    "retain": ("retain", MANIFEST),
    "status": ("status", MANIFEST),
    "validate": ("validate", MANIFEST),
}
# apply and destroy end a run the interrupt let finish (or aborted) with their own summary;
# retain's own status is 1 in rounds where the stack's devbox is not up
MAY_FAIL = {"apply", "destroy", "retain"}
CASES = [("served", name) for name in COMMANDS if name != "validate"]
CASES += [("embedded", name) for name in COMMANDS] + [("serve", "local serve")]
# our files a traceback may pass through before the entry point has taken the signals over
START_UP = re.compile(r'File ".*/reconcile/(__main__|__init__|entry|signals)\.py"')
PACKAGE = REPO / "reconcile"


@dataclass
class Bench:
    """The server, a workspace, an embedded data folder, and each case's measured duration."""

    api: Api
    work: Path
    local: Path
    spans: dict[tuple[str, str], float]

    def argv(self, kind: str, name: str) -> tuple[list[str], dict[str, str]]:
        python = [sys.executable, "-m", "reconcile"]
        if kind == "served":
            return rlstate_argv(list(COMMANDS[name]), api=self.api), rlstate_env()
        if kind == "embedded":
            return [*python, *COMMANDS[name]], {
                **rlstate_env(),
                "RLSTATE_LOCAL_DIR": str(self.local),
            }
        serve = ["local", "serve", "--port", str(free_port()), "--data-dir", str(self.local)]
        return [*python, *serve], rlstate_env()

    def span(self, kind: str, name: str) -> float:
        """How long the case runs unsignalled (`local serve`: until it has announced itself)."""
        if (kind, name) not in self.spans:
            argv, environ = self.argv(kind, name)
            started = time.monotonic()
            run = Run.start(argv, self.work, environ)
            if kind == "serve":
                assert run.read_until(match=lambda line: "local API at" in line), run.output()
                run.proc.send_signal(signal.SIGINT)
                run.finish()
            else:
                assert run.finish() in (0, 1), run.output()
            self.spans[(kind, name)] = time.monotonic() - started
        return self.spans[(kind, name)]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    root = tmp_path_factory.mktemp("signal-moments")
    server = ServerProcess(root / "served")
    api = server.start()
    try:
        yield Bench(api, workspace(root / "work"), root / "local", {})
    finally:
        server.stop()


def _catches(pid: int, signum: int) -> bool:
    """Whether the process has a handler for `signum` now (Linux: SigCgt in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False  # already gone
    caught = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.MULTILINE)
    return caught is not None and bool(int(caught.group(1), 16) >> (signum - 1) & 1)


def _before_our_handlers(code: int, signum: int, stderr: str, caught: bool) -> bool:
    """The signal came before the entry point took the signals over, and met Python's default:
    SIGTERM kills silently (no handler when sent); SIGINT kills silently very early, later it
    is a KeyboardInterrupt in the interpreter's start-up (site, or importing the entry point;
    exit 1 when in site)."""
    if signum == signal.SIGTERM:
        return code == -signum and not caught and not stderr.strip()
    if code == -signum and not stderr.strip():
        return True
    ours = [f for f in re.findall(r'File "([^"]*)"', stderr) if f.startswith(f"{PACKAGE}/")]
    return (
        code in (-signum, 1)
        and stderr.rstrip().endswith("KeyboardInterrupt")
        and all(START_UP.match(f'File "{frame}"') for frame in ours)
    )


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc/PID/status")
@each_seed(SEEDS)
def test_a_signal_at_any_moment_gives_one_line_its_status_and_no_lock(
    bench: Bench, seed: int
) -> None:
    rng = random.Random(seed)
    kind, name = CASES[seed % len(CASES)]  # every case in any run of len(CASES) rounds
    signum = rng.choice([signal.SIGINT, signal.SIGTERM])
    span = bench.span(kind, name)
    delay = rng.uniform(0, span * 1.1)
    argv, environ = bench.argv(kind, name)
    run = Run.start(argv, bench.work, environ)
    caught = False
    try:
        run.proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        caught = _catches(run.proc.pid, signum)
        run.proc.send_signal(signum)
    code = run.finish()

    sig = signal.Signals(signum).name
    said = f"{kind} {name}, {sig} after {delay:.3f}s of ~{span:.2f}s: exit {code}"
    stderr = run.stderr.read_text()
    shown = f"{said}\n{run.output()[-3000:]}"
    locks = list((bench.work / ".rlstate").glob("*.lock"))
    assert locks == [], shown
    if _before_our_handlers(code, signum, stderr, caught):
        return
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, shown
    assert stderr.count("interrupted by") <= 1, shown
    if code == 128 + signum:
        assert (stderr.strip().splitlines() or [""])[-1] == f"interrupted by {sig}", shown
        return
    assert "interrupted by" not in stderr, shown
    assert kind != "serve", shown  # it serves until signalled: only 128+N is right
    assert code == 0 or (code == 1 and name in MAY_FAIL), shown
