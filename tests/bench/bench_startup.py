"""Start-up benchmark: `rlstate --help` and `rlstate validate` against bare imports, as ratios.

Absolute times drift between machines; ratios measured in the same run do not. Targets:
--help within 1.5x of `python -c "import typer"`, validate within 1.5x of
`python -c "import typer, yaml, pydantic"`. Run: python tests/bench/bench_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "manifests" / "quickstart.yaml"
RUNS = 15


def timed(args: list[str]) -> float:
    """Median wall time of a command over RUNS runs (after one warm-up)."""
    subprocess.run(args, capture_output=True, check=False, cwd=REPO)
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(args, capture_output=True, check=False, cwd=REPO)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    py = sys.executable
    cli = [py, "-m", "reconcile"]
    base_typer = timed([py, "-c", "import typer"])
    base_three = timed([py, "-c", "import typer, yaml, pydantic"])
    help_time = timed([*cli, "--help"])
    validate_time = timed([*cli, "validate", str(MANIFEST)])
    rows = [
        ("python -c 'import typer'", base_typer, None),
        ("python -c 'import typer, yaml, pydantic'", base_three, None),
        ("rlstate --help", help_time, help_time / base_typer),
        ("rlstate validate quickstart.yaml", validate_time, validate_time / base_three),
    ]
    print(f"{'command':<42} {'median ms':>10} {'ratio':>7}")
    for name, seconds, ratio in rows:
        shown = f"{ratio:.2f}x" if ratio is not None else ""
        print(f"{name:<42} {seconds * 1000:>10.1f} {shown:>7}")
    print("targets: --help <= 1.5x import typer; validate <= 1.5x import typer, yaml, pydantic")


if __name__ == "__main__":
    main()
