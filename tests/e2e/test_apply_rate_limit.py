"""Apply under the local server's request-rate limit (20 requests/s, as an account limit would
be): sixty devboxes converge, none twice, every 429 absorbed within its request's retry budget,
and the run says what it absorbed and how many requests it had in flight."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from apply_support import by_name, devboxes, events, rlstate, sdk, summary

COUNT = 60


def test_sixty_devboxes_converge_under_a_20_per_second_limit(
    local_server: Any, tmp_path: Path
) -> None:
    boxes = "".join(f"  box-{n}:\n    keep_alive: 1h\n" for n in range(COUNT))
    (tmp_path / "rlstate.yaml").write_text(f"version: 1\nstack: limited\ndevboxes:\n{boxes}")
    local_server.control("/_local/faults", {"rate_limit": 20})
    try:
        done = rlstate(local_server, tmp_path, "apply", "rlstate.yaml", "--yes", "--json")
    finally:
        local_server.control("/_local/faults", {"rate_limit": None})
    assert done.returncode == 0, done.stdout + done.stderr
    result = summary(done.stdout)
    assert result["result"] == "converged" and result["done"] == COUNT  # no request gave up
    assert result["throttled"] > 0 and result["peak_concurrency"] >= 1
    cuts = [e for e in events(done.stdout) if e["event"] == "limit"]
    assert cuts, "no concurrency cut was reported"
    assert all(
        re.fullmatch(r"throttled: 429, (waiting [\d.e-]+ s, )?concurrency \d+ → \d+", c["message"])
        for c in cuts
    ), cuts
    client = sdk(local_server)
    assert sorted(by_name(client, "limited")) == sorted(f"box-{n}" for n in range(COUNT))
    assert len(devboxes(client, "limited", active_only=False)) == COUNT  # none made twice
