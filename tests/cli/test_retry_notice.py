"""`plan` says on stderr why it waits when the API refuses or is unreachable, one line a round."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def test_plan_against_a_throttling_api_says_why_it_waits_then_fails_in_one_line(
    local_server: Any, tmp_path: Path
) -> None:
    manifest = tmp_path / "rlstate.yaml"
    manifest.write_text((REPO / "manifests" / "quickstart.yaml").read_text())
    faults = {"rate": 1.0, "statuses": [429], "retry_after": 0.01}
    local_server.control("/_local/faults", faults)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOOP_", "RLSTATE_"))}
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "reconcile", "plan", "--api-url", local_server.url]
    result = subprocess.run(
        [*argv, "--api-key", local_server.token],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    local_server.control("/_local/faults", {"rate": 0.0})

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    notices = [line for line in lines if line.startswith("rlstate: GET /v1/")]
    # three lists retry in parallel; each round of retries is said once
    assert [n.rsplit("(attempt ", 1)[1] for n in notices] == [f"{i} of 6)" for i in range(1, 6)]
    assert all("throttled (429)" in n for n in notices), notices
    assert lines[-1].startswith("error: ") and "Traceback" not in result.stderr
