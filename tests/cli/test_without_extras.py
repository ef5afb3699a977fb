"""rlstate as `pip install rlstate` leaves it: no optional extras. The test extra installs psycopg,
so without this test nothing would notice a run that needs it only for the shared lock."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import REPO, rlstate_env

# `import psycopg` fails in this process, as it does where the postgres extra is not installed.
WITHOUT_PSYCOPG = """
import sys
sys.modules["psycopg"] = None
sys.argv = ["rlstate", *sys.argv[1:]]
from reconcile.entry import main
main()
"""


def _rlstate(server: Any, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", WITHOUT_PSYCOPG, *args]
    argv += ["--api-url", server.url, "--api-key", server.token]
    return subprocess.run(
        argv, cwd=cwd, env=rlstate_env(), capture_output=True, text=True, timeout=300
    )


def test_the_quick_start_applies_and_converges_without_psycopg(
    local_server: Any, tmp_path: Path
) -> None:
    shutil.copy(REPO / "manifests" / "quickstart.yaml", tmp_path / "rlstate.yaml")
    applied = _rlstate(local_server, tmp_path, "apply", "rlstate.yaml", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "Traceback" not in applied.stderr
    planned = _rlstate(local_server, tmp_path, "plan", "rlstate.yaml", "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "No changes." in planned.stdout
