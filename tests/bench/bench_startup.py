"""Start-up benchmark: `rlstate --help` and `rlstate validate` against bare imports, as ratios.

Absolute times drift between machines; ratios measured in the same run do not. Targets:
--help within 1.5x of `python -c "import typer"`, validate within 1.5x of
`python -c "import typer, yaml, pydantic"`. Run: python tests/bench/bench_startup.py

Every command runs as an installed rlstate does: with its modules' bytecode compiled (pip compiles
on install), so PYTHONDONTWRITEBYTECODE is dropped and the caches go to a temporary folder, filled
by a warm-up run. Wall time and CPU time (user + system of the child) are printed, each as the
minimum and the median of the runs, with their ratios to the baseline: CPU time and minima move
less when the machine is busy with other work.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "manifests" / "quickstart.yaml"
RUNS = 20


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of a command."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def measure(
    commands: dict[str, list[str]], env: dict[str, str]
) -> dict[str, list[tuple[float, float]]]:
    """Wall and CPU time of each run of each command, the commands interleaved over RUNS rounds."""
    for args in commands.values():
        run_once(args, env)  # warm-up: fills the bytecode caches
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, args in commands.items():
            samples[name].append(run_once(args, env))
    return samples


def figures(runs: list[tuple[float, float]]) -> list[float]:
    """Minimum and median wall time, minimum and median CPU time, in seconds."""
    walls, cpus = [run[0] for run in runs], [run[1] for run in runs]
    return [min(walls), statistics.median(walls), min(cpus), statistics.median(cpus)]


def main() -> None:
    py = sys.executable
    cli = [py, "-m", "reconcile"]
    commands = {
        "python -c 'import typer'": [py, "-c", "import typer"],
        "python -c 'import typer, yaml, pydantic'": [py, "-c", "import typer, yaml, pydantic"],
        "rlstate --help": [*cli, "--help"],
        "rlstate validate quickstart.yaml": [*cli, "validate", str(MANIFEST)],
    }
    baselines = {
        "rlstate --help": "python -c 'import typer'",
        "rlstate validate quickstart.yaml": "python -c 'import typer, yaml, pydantic'",
    }
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as caches:
        env["PYTHONPYCACHEPREFIX"] = caches
        samples = measure(commands, env)
    times = {name: figures(runs) for name, runs in samples.items()}
    print(f"{RUNS} runs each, in ms; ratio: to the baseline's figure of the same kind")
    head = ("wall min", "wall med", "cpu min", "cpu med")
    print(f"{'command':<42}" + "".join(f" {h:>9} {'ratio':>6}" for h in head))
    for name, values in times.items():
        base = baselines.get(name)
        row = f"{name:<42}"
        for i, value in enumerate(values):
            ratio = f"{value / times[base][i]:.2f}x" if base else ""
            row += f" {value * 1000:>9.1f} {ratio:>6}"
        print(row)
    print("targets: --help <= 1.5x import typer; validate <= 1.5x import typer, yaml, pydantic")


if __name__ == "__main__":
    main()
