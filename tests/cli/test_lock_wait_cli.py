"""`--lock-timeout` with the lock file: a run waits for the holder, says so once, fails naming
it when the time is up, and a SIGTERM ends the wait at once (exit 143), before any API call."""

from __future__ import annotations

import signal
from pathlib import Path

from reconcile.apply.lock import stack_lock
from tests.helpers import run_rlstate, start_rlstate

MANIFEST = "version: 1\nstack: waits\ndevboxes:\n  box: {}\n"
NOWHERE = ("--api-url", "http://127.0.0.1:9", "--api-key", "not-a-key")


def test_a_run_waits_then_fails_naming_the_holder(tmp_path: Path) -> None:
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    with stack_lock(tmp_path / ".rlstate", "waits", "retain"):
        result = run_rlstate(
            ["apply", "rlstate.yaml", "--yes", "--lock-timeout", "1s", *NOWHERE], cwd=tmp_path
        )
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert lines[0].startswith("rlstate: waiting up to 1s for the lock of stack 'waits', held by")
    assert lines[1].startswith("error: stack 'waits' is locked by another rlstate run: pid ")
    assert "(retain)" in lines[1] and lines[1].endswith("(waited 1s)") and len(lines) == 2


def test_sigterm_ends_the_wait_at_once(tmp_path: Path) -> None:
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    with stack_lock(tmp_path / ".rlstate", "waits", "apply"):
        proc = start_rlstate(
            ["apply", "rlstate.yaml", "--yes", "--lock-timeout", "10m", *NOWHERE], cwd=tmp_path
        )
        assert proc.stderr is not None
        first = proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
    assert first.startswith("rlstate: waiting up to 10m for the lock of stack 'waits'")
    assert proc.returncode == 128 + signal.SIGTERM, rest
    assert rest.strip() == "interrupted by SIGTERM"
    assert not list((tmp_path / ".rlstate").glob("waits.lock"))  # none left behind
