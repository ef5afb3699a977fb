"""Helpers for the chaos tests: a `rlstate local serve` subprocess that can be killed and
restarted on its data dir, `rlstate` runs started in the background and struck at seeded
random moments, and the seeded rounds themselves (which stack, command, edit, faults, delay)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from chaos_world import TOKEN, Api, Expected, Foreign, World, problems

from tests.helpers import REPO, rlstate, rlstate_argv, rlstate_env

FAULTS_OFF: dict[str, object] = {
    "rate": 0.0,
    "drop_rate": 0.0,
    "lost_answer_rate": 0.0,
    "latency_ms": 0,
    "snapshot_error_rate": 0.0,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """`rlstate local serve` in a subprocess on a fixed port and data dir (restartable)."""

    data_dir: Path
    transition_seconds: float = 0.05
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> Api:
        return Api(f"http://127.0.0.1:{self.port}")

    def start(self, timeout: float = 60) -> Api:
        args = ["local", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        args += ["--token", TOKEN, "--transition-seconds", str(self.transition_seconds)]
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            rlstate_argv(args),
            env=rlstate_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        log.close()
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        assert "rlstate local API at" in line, f"the server did not start: {line!r}"
        return self.api

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind (its devboxes' processes die with it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=30)
            assert self.proc.stdout is not None
            self.proc.stdout.close()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        self.kill()


@dataclass
class Chaos:
    """A test module's bench: one server (a subprocess) for all its rounds, so stacks carry
    over from round to round; a workspace; and, where asked for, resources of another tool."""

    server: ServerProcess
    work: Path
    foreign: Foreign | None

    @property
    def api(self) -> Api:
        return self.server.api


def seeds(rounds_var: str, seed_var: str, rounds: int, first: int) -> list[int]:
    """The seeds of a chaos module's rounds: `rounds` from `first`, or as many and from where
    the environment variables say."""
    count = int(os.environ.get(rounds_var, str(rounds)))
    start = int(os.environ.get(seed_var, str(first)))
    return [start + n for n in range(count)]


def each_seed(round_seeds: list[int]) -> Callable[[Callable[..., None]], Any]:
    """A chaos round per seed (`seed-N` ids, so one reruns with `-k seed-N`), each given the
    same generous timeout."""

    def mark(test: Callable[..., None]) -> Any:
        ids = [f"seed-{s}" for s in round_seeds]
        return pytest.mark.timeout(300)(pytest.mark.parametrize("seed", round_seeds, ids=ids)(test))

    return mark


def chaos_fixture(name: str, *, foreign: bool = True) -> Any:
    """A module-scoped `chaos` fixture: one bench (see chaos_bench) shared by a module's rounds."""

    @pytest.fixture(scope="module")
    def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
        with chaos_bench(tmp_path_factory.mktemp(name), foreign=foreign) as bench:
            yield bench

    return chaos


@contextlib.contextmanager
def chaos_bench(base: Path, *, foreign: bool = True) -> Iterator[Chaos]:
    server = ServerProcess(base / "data")
    api = server.start()
    work = workspace(base / "work")
    try:
        yield Chaos(server, work, Foreign.make(api) if foreign else None)
    finally:
        server.stop()


@dataclass
class Run:
    """A `rlstate` run in the background: its stdout read line by line as it comes (JSON events
    with --json), its stderr in a file (never a full pipe)."""

    proc: subprocess.Popen[str]
    stderr: Path
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, argv: list[str], cwd: Path, environ: dict[str, str] | None = None) -> Run:
        err = cwd / ".chaos-stderr"
        with open(err, "w") as handle:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=environ or rlstate_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=handle,
                text=True,
            )
        return cls(proc, err)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def read_until(self, count: int = 1, match: Callable[[str], bool] | None = None) -> bool:
        """Reads until `count` more lines have come (or one `match`es); False if the run ended."""
        assert self.proc.stdout is not None
        for seen, line in enumerate(self.proc.stdout, start=1):
            self.lines.append(line)
            if match(line) if match is not None else seen >= count:
                return True
        return False

    def strike(self, delay: float, *signals: int) -> bool:
        """After `delay` s sends each signal (0.3 s apart) unless the run ended; True if it ran."""
        try:
            self.proc.wait(timeout=delay)
            return False
        except subprocess.TimeoutExpired:
            pass
        for index, sig in enumerate(signals):
            if index:
                time.sleep(0.3)
            self.proc.send_signal(sig)
        return True

    def finish(self, timeout: float = 120) -> int:
        """Waits for the end (a run that outlives `timeout` is a hang: killed, test fails)."""
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
            self.lines.extend(rest.splitlines(keepends=True))
            hung = f"the run hung for {timeout}s:\n{self.output()[-3000:]}"
            raise AssertionError(hung) from None
        self.lines.extend(rest.splitlines(keepends=True))
        return self.proc.returncode

    def output(self) -> str:
        return "".join(self.lines) + self.stderr.read_text()


def random_faults(rng: random.Random) -> dict[str, object]:
    """A seeded mix of error answers, dropped connections, lost answers, latency and failed
    snapshots."""
    return {
        "rate": round(rng.uniform(0.1, 0.3), 2),
        "statuses": [429, 500, 503],
        "retry_after": 0.05,
        "drop_rate": round(rng.uniform(0.0, 0.1), 2),
        "lost_answer_rate": round(rng.uniform(0.0, 0.1), 2),
        "latency_ms": rng.choice([0, 0, 20, 80]),
        "snapshot_error_rate": rng.choice([0.0, 0.0, 0.2]),
        "seed": rng.randrange(1 << 30),
    }


@dataclass(frozen=True)
class Scenario:
    """An example manifest, what it converges to, and an edit that forces replacements."""

    manifest: str
    expected: Expected
    edit: tuple[str, str, str]  # (file, text, other text): toggled between runs

    def toggle(self, work: Path) -> None:
        """Swap the edit's two texts (a changed env/setup/file means replacements)."""
        path = work / self.edit[0]
        text = path.read_text()
        a, b = self.edit[1], self.edit[2]
        path.write_text(text.replace(a, b) if a in text else text.replace(b, a))


# A devbox kept suspended (its snapshot taken while suspended) and a clone restored from it;
# the edit flips it to running and back: suspend and resume under chaos.
SLEEPER = """version: 1
stack: sleeper
devboxes:
  idle:
    state: suspended
    setup:
      - echo zzz > sleep.txt
  clone:
    from_snapshot: base
snapshots:
  base:
    devbox: idle
    keep: {last: 2}
"""
SCENARIOS = (
    Scenario(
        "combined.yaml",
        Expected(
            "combined",
            frozenset({"builder", "worker-0", "worker-1"}),
            frozenset({"app-config", "tools"}),
            frozenset({"golden"}),
        ),
        ("combined.yaml", "LOG_LEVEL: debug", "LOG_LEVEL: trace"),
    ),
    Scenario(
        "snapshot-and-restore.yaml",
        Expected(
            "snapshot-restore",
            frozenset({"builder", "worker-0", "worker-1", "worker-2"}),
            series=frozenset({"golden"}),
        ),
        ("snapshot-and-restore.yaml", 'echo "built by setup"', 'echo "built again"'),
    ),
    Scenario(
        "retention.yaml",
        Expected("retention", frozenset({"database"}), series=frozenset({"nightly"})),
        ("retention.yaml", "mkdir -p /home/user/db", "mkdir -p /home/user/db && true"),
    ),
    Scenario(
        "object-bootstrap.yaml",
        Expected("object-bootstrap", frozenset({"app"}), frozenset({"app-config"})),
        ("files/app-config.json", '"workers": 2', '"workers": 3'),
    ),
    Scenario(
        "sleeper.yaml",
        Expected("sleeper", frozenset({"idle", "clone"}), series=frozenset({"base"})),
        ("sleeper.yaml", "state: suspended", "state: running"),
    ),
)
VERBS = ("apply", "apply", "apply", "destroy", "retain")


def workspace(target: Path) -> Path:
    """A folder with the example manifests (and their files) and the chaos-only ones."""
    shutil.copytree(REPO / "manifests", target)
    (target / "sleeper.yaml").write_text(SLEEPER)
    return target


DAY = 25 * 3600  # a day and an hour: a daily snapshot taken this long ago is due


@dataclass(frozen=True)
class Round:
    """One seeded round: which stack and command, an edit or not, the faults, and when to
    strike: after `lines` lines of the run's output (0: from its start) and `delay` s more."""

    seed: int
    scenario: Scenario
    verb: str
    edit: bool
    faults: dict[str, object]
    lines: int
    delay: float

    @classmethod
    def from_seed(cls, seed: int) -> Round:
        rng = random.Random(seed)
        scenario, verb = rng.choice(SCENARIOS), rng.choice(VERBS)
        # retain writes its lines at the end of each action only: strike it by the clock
        lines = rng.choice([0, 0, 1] if verb == "retain" else [0, *range(1, 11)])
        return cls(
            seed=seed,
            scenario=scenario,
            verb=verb,
            edit=rng.random() < 0.5,
            faults=random_faults(rng),
            lines=lines,
            delay=round(rng.uniform(0.0, 0.15) if lines else rng.uniform(0.3, 2.0), 2),
        )

    def args(self) -> list[str]:
        if self.verb == "retain":
            return ["retain", self.scenario.manifest, "--json"]
        return [self.verb, self.scenario.manifest, "--yes", "--json"]

    def strike(self, run: Run, *signals: int) -> bool:
        """Signals the run at this round's moment; False when it ended before."""
        return self.moment(run) and run.strike(0.0, *signals)

    def moment(self, run: Run) -> bool:
        """Waits for this round's moment in the run; False when the run ended before."""
        if self.lines and not run.read_until(self.lines):
            return False
        try:
            run.proc.wait(timeout=self.delay)
        except subprocess.TimeoutExpired:
            return True
        return False

    @property
    def pause(self) -> float:
        """How long a killed server stays down in this round (0 to 2 s)."""
        return random.Random(self.seed + 1).uniform(0.0, 2.0)

    def prepare(self, api: Api, work: Path) -> None:
        """Faults off, make sure the command has work to do: an apply meets an edited stack or
        none at all, a destroy meets the stack, a retain meets it made a day ago (a snapshot
        is due)."""
        api.control("/_local/faults", FAULTS_OFF)
        manifest = self.scenario.manifest
        exists = bool(World.read(api).of(self.scenario.expected.stack).devboxes_up())
        if exists and (self.verb == "retain" or (self.verb == "apply" and not self.edit)):
            assert rlstate(api, work, "destroy", manifest, "--yes").returncode == 0
        elif exists and self.verb == "apply":
            self.scenario.toggle(work)
        if self.verb == "destroy" and not exists:
            assert rlstate(api, work, "apply", manifest, "--yes").returncode == 0
        if self.verb == "retain":
            api.control("/_local/clock", {"offset_seconds": -DAY})
            assert rlstate(api, work, "apply", manifest, "--yes").returncode == 0
            api.control("/_local/clock", {"offset_seconds": 0})

    def __str__(self) -> str:
        edit = " (edited first)" if self.edit and self.verb == "apply" else ""
        when = f"after {self.lines} lines and {self.delay}s" if self.lines else f"at {self.delay}s"
        return f"seed {self.seed}: {' '.join(self.args())}{edit}, struck {when}"


def converge(api: Api, work: Path, scenario: Scenario, foreign: Foreign | None) -> list[str]:
    """Apply with faults off, then check: nothing left to plan, and the invariants hold."""
    api.control("/_local/faults", FAULTS_OFF)
    manifest = scenario.manifest
    applied = rlstate(api, work, "apply", manifest, "--yes", "--json")
    if applied.returncode != 0:
        return [f"apply failed ({applied.returncode}): {applied.stdout[-2000:]}{applied.stderr}"]
    plan = rlstate(api, work, "plan", manifest, "--detailed-exitcode")
    found = [] if plan.returncode == 0 else [f"not converged: {plan.stdout[-2000:]}"]
    found += problems(World.read(api), scenario.expected)
    if foreign is not None:
        found += foreign.changes(api)
    return found
