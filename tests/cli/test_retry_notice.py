"""`plan` says on stderr why it waits when the API refuses or is unreachable, one line a round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import REPO, run_rlstate


def test_plan_against_a_throttling_api_says_why_it_waits_then_fails_in_one_line(
    local_server: Any, tmp_path: Path
) -> None:
    manifest = tmp_path / "rlstate.yaml"
    manifest.write_text((REPO / "manifests" / "quickstart.yaml").read_text())
    faults = {"rate": 1.0, "statuses": [429], "retry_after": 0.01}
    local_server.control("/_local/faults", faults)
    result = run_rlstate(["plan"], cwd=tmp_path, api=local_server)
    local_server.control("/_local/faults", {"rate": 0.0})

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    notices = [line for line in lines if line.startswith("rlstate: GET /v1/")]
    # three lists retry in parallel; each round of retries is said once
    assert [n.rsplit("(attempt ", 1)[1] for n in notices] == [f"{i} of 6)" for i in range(1, 6)]
    assert all("throttled (429)" in n for n in notices), notices
    assert lines[-1].startswith("error: ") and "Traceback" not in result.stderr
