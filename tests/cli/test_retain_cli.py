"""`rlstate retain` as cron runs it: a real subprocess against the real local backend.

Exit status, what is printed in each mode (default, --quiet, --json, --dry-run), failures,
the stack lock against `apply` and against a second `retain`, and `rlstate status` ages.
Time: the backend's clock is moved back, so snapshots it takes are old to the CLI's clock.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from runloop_api_client import Runloop

from tests.helpers import rlstate_argv, rlstate_env, run_rlstate, start_rlstate

DAY = 86400


def rlstate(server: Any, cwd: Path, command: str, *args: str, key: str | None = None) -> Any:
    """Runs the CLI to the end; the API key must never show in what it prints."""
    result = run_rlstate([command, *args], cwd=cwd, api=server, key=key, timeout=300)
    assert (key or server.token) not in result.stdout + result.stderr
    return result


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def control(server: Any, path: str, body: dict[str, Any]) -> None:
    server.control(path, body)


def manifest(folder: Path, devbox: str, keep: str = "{last: 2}", every: str = "24h") -> Path:
    path = folder / "rlstate.yaml"
    path.write_text(
        f"version: 1\nstack: nightly\nsnapshots:\n  golden:\n    devbox: {devbox}\n"
        f"    every: {every}\n    keep: {keep}\n"
    )
    return path


@pytest.fixture
def devbox(local_server: Any) -> str:
    """A running devbox made with the official SDK (rlstate does not own it)."""
    client = Runloop(base_url=local_server.url, bearer_token=local_server.token)
    return client.devboxes.create_and_await_running(name="builder").id


def snapshots(server: Any) -> dict[str, Any]:
    client = Runloop(base_url=server.url, bearer_token=server.token)
    return {s.id: s for s in client.devboxes.disk_snapshots.list(limit=500)}


def nights_ago(server: Any, cwd: Path, days: int) -> str:
    """A (quiet, in-process) retain run while the backend's clock is `days` behind: the
    snapshot it takes is that old to the CLI's clock. Returns its id."""
    from reconcile.commands import retain
    from reconcile.commands.connection import ConnectionSettings

    conn = ConnectionSettings.from_flags(api_url=server.url, api_key=server.token, local_dir=cwd)
    before = set(snapshots(server))
    control(server, "/_local/clock", {"offset_seconds": -days * DAY})
    code = retain.run(cwd / "rlstate.yaml", conn, dry_run=False, json_out=False, quiet=True)
    control(server, "/_local/clock", {"offset_seconds": 0})
    assert code == 0
    (taken,) = set(snapshots(server)) - before
    return taken


def test_first_run_prints_what_it_did_and_the_second_prints_nothing(
    local_server: Any, tmp_path: Path, devbox: str
) -> None:
    manifest(tmp_path, devbox)
    first = rlstate(local_server, tmp_path, "retain")
    (taken,) = snapshots(local_server)
    assert (first.returncode, first.stderr) == (0, "")
    lines = first.stdout.splitlines()
    assert lines[0] == f"snapshot.golden: snapshot {taken} has been taken"
    assert lines[1] == "snapshot.golden"
    assert lines[2].startswith(f"  keep  {taken} ") and "newest complete" in lines[2]
    assert "KiB" in lines[2]  # the size the API gives
    assert lines[-2:] == [
        "snapshot.golden (keep last 2): 1 kept, 0 pruned",
        "Retain: took 1 snapshot(s), pruned 0, kept 1, failed 0.",
    ]
    second = rlstate(local_server, tmp_path, "retain")
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "")
    assert set(snapshots(local_server)) == {taken}


def test_on_a_terminal_stderr_says_what_the_snapshot_waits_for(
    local_server: Any, tmp_path: Path, devbox: str
) -> None:
    """Someone watching sees the snapshot being taken as it happens (cron, above, sees none)."""
    manifest(tmp_path, devbox)
    master, terminal = os.openpty()
    argv = rlstate_argv(["retain"], api=local_server)
    with subprocess.Popen(
        argv, cwd=tmp_path, env=rlstate_env(), stdout=subprocess.PIPE, stderr=terminal, text=True
    ) as proc:
        os.close(terminal)
        seen = b""
        while select.select([master], [], [], 300)[0]:  # until the child closes the terminal
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: Linux's end of a terminal whose other side is closed
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(timeout=300) == 0
        stdout = proc.stdout.read() if proc.stdout else ""
    os.close(master)
    (taken,) = snapshots(local_server)
    lines = seen.decode().splitlines()
    assert lines[0] == "snapshot.golden: taking a snapshot", lines
    assert all(line.startswith("snapshot.golden: ") for line in lines)
    assert stdout.splitlines()[0] == f"snapshot.golden: snapshot {taken} has been taken"
    assert local_server.token not in seen.decode() + stdout


def test_quiet_is_silent_when_all_went_well(local_server: Any, tmp_path: Path, devbox: str) -> None:
    manifest(tmp_path, devbox, keep="{last: 1}")
    nights_ago(local_server, tmp_path, 2)
    result = rlstate(local_server, tmp_path, "retain", "--quiet")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert len(snapshots(local_server)) == 1  # took one, pruned the old one


def test_json_is_one_event_per_line_ending_with_the_summary(
    local_server: Any, tmp_path: Path, devbox: str
) -> None:
    manifest(tmp_path, devbox)
    old = [nights_ago(local_server, tmp_path, d) for d in (3, 2)]
    result = rlstate(local_server, tmp_path, "retain", "--json")
    assert (result.returncode, result.stderr) == (0, "")
    evs = events(result.stdout)
    kinds = [(e["event"], e.get("kind"), e.get("state")) for e in evs]
    assert kinds[:2] == [("action", "snapshot", "done"), ("action", "prune", "done")]
    assert evs[1]["snapshot"] == old[0]
    assert [e["event"] for e in evs[2:]] == ["retention"] * 3 + ["series", "summary"]
    summary = evs[-1]
    picked = {k: summary[k] for k in ("result", "dry_run", "taken", "pruned", "kept", "failed")}
    assert picked == {
        "result": "ok",
        "dry_run": False,
        "taken": 1,
        "pruned": 1,
        "kept": 2,
        "failed": 0,
    }
    assert summary["error"] is None and summary["failures"] == [] and summary["requests"] > 0


def test_dry_run_changes_nothing_and_shows_what_the_real_run_then_does(
    local_server: Any, tmp_path: Path, devbox: str
) -> None:
    manifest(tmp_path, devbox, keep="{last: 5}")
    old = [nights_ago(local_server, tmp_path, d) for d in (4, 3, 2)]
    manifest(tmp_path, devbox, keep="{last: 2}")
    before = snapshots(local_server)
    text = rlstate(local_server, tmp_path, "retain", "--dry-run")
    dry = rlstate(local_server, tmp_path, "retain", "--dry-run", "--json")
    assert snapshots(local_server) == before  # the same records, unchanged
    assert (text.returncode, dry.returncode) == (0, 0)
    assert "snapshot.golden: would take a snapshot (due by `every`)" in text.stdout
    assert "snapshot.golden (keep last 2): 2 kept, 2 would be pruned" in text.stdout
    assert text.stdout.splitlines()[-1] == (
        "Retain (dry run): would take 1 snapshot(s), would prune 2, kept 2, failed 0."
    )
    planned = [e for e in events(dry.stdout) if e.get("state") == "planned"]
    assert [(e["kind"], e.get("snapshot")) for e in planned] == [
        ("snapshot", None),
        ("prune", old[1]),
        ("prune", old[0]),
    ]
    real = rlstate(local_server, tmp_path, "retain", "--json")
    done = [e for e in events(real.stdout) if e.get("state") == "done"]
    assert {e.get("snapshot") for e in done if e["kind"] == "prune"} == {old[0], old[1]}
    assert old[2] in snapshots(local_server) and len(snapshots(local_server)) == 2


HELD = "not pruned: this run's snapshot of the series failed"


@pytest.mark.parametrize("mode", ["text", "quiet", "json"])
def test_a_failed_snapshot_exits_1_and_prunes_nothing(
    local_server: Any, tmp_path: Path, devbox: str, mode: str
) -> None:
    manifest(tmp_path, devbox, keep="{last: 5}")
    older, old = nights_ago(local_server, tmp_path, 3), nights_ago(local_server, tmp_path, 2)
    manifest(tmp_path, devbox, keep="{last: 1}")  # `older` is due to go, but not tonight
    control(local_server, "/_local/faults", {"snapshot_error_rate": 1.0})
    flags = {"text": (), "quiet": ("--quiet",), "json": ("--json",)}[mode]
    result = rlstate(local_server, tmp_path, "retain", *flags)
    assert result.returncode == 1
    (failed,) = set(snapshots(local_server)) - {older, old}  # both are still there
    why = (
        f"snapshot {failed} of devbox {devbox} ended in error: injected fault: the snapshot failed"
    )
    if mode == "json":
        summary = events(result.stdout)[-1]
        assert (summary["result"], summary["failed"], summary["pruned"]) == ("failed", 1, 0)
        assert summary["failures"] == [{"id": "snapshot snapshot.golden", "reason": why}]
        return
    report = result.stderr if mode == "quiet" else result.stdout
    assert (result.stdout if mode == "quiet" else result.stderr) == ""
    assert f"snapshot.golden: {why}" in report
    assert report.splitlines()[-1] == f"error: snapshot snapshot.golden: {why}"
    rows = [line for line in report.splitlines() if line.startswith("  keep  ")]
    assert [row.split()[1] for row in rows] == [failed, old, older]
    assert "error, newer than the newest complete" in rows[0]
    assert rows[2].endswith(f"not kept by any rule, {HELD}")


def test_a_series_whose_devbox_is_not_running_exits_1(local_server: Any, tmp_path: Path) -> None:
    (tmp_path / "rlstate.yaml").write_text(
        "version: 1\nstack: nightly\ndevboxes:\n  builder: {}\n"
        "snapshots:\n  golden:\n    devbox: builder\n    keep: {last: 3}\n"
    )
    result = rlstate(local_server, tmp_path, "retain")
    assert result.returncode == 1
    assert "error: snapshot snapshot.golden: devbox builder is not running" in result.stdout
    assert snapshots(local_server) == {}


@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
def test_an_api_error_is_one_line_on_stderr(
    local_server: Any, tmp_path: Path, devbox: str, json_out: bool
) -> None:
    manifest(tmp_path, devbox)
    flags = ("--json",) if json_out else ()
    result = rlstate(local_server, tmp_path, "retain", *flags, key="not-the-key")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
    if json_out:
        summary = events(result.stdout)[-1]
        assert summary["event"] == "summary" and summary["result"] == "error"
        assert summary["error"] == result.stderr.removeprefix("error: ").strip()
    else:
        assert result.stdout == ""
    assert snapshots(local_server) == {}


def _start(server: Any, cwd: Path, command: str, *args: str) -> subprocess.Popen[str]:
    return start_rlstate([command, *args], cwd=cwd, api=server)


def _holding_lock(first: subprocess.Popen[str], lock: Path) -> None:
    """Waits until `first` holds the stack lock (its lock file exists)."""
    deadline = time.monotonic() + 60  # its start-up alone can take seconds on a busy machine
    while time.monotonic() < deadline:
        if lock.exists():
            return
        assert first.poll() is None, first.communicate()
        time.sleep(0.01)
    raise AssertionError("the first run did not take the lock within 60 s")


@pytest.mark.parametrize("holder", ["apply", "retain"])
def test_a_second_run_on_the_stack_gets_a_clean_lock_error(
    local_server: Any, tmp_path: Path, holder: str
) -> None:
    (tmp_path / "rlstate.yaml").write_text(
        "version: 1\nstack: nightly\ndevboxes:\n  builder: {resource_size: X_SMALL}\n"
        "snapshots:\n  golden:\n    devbox: builder\n    every: 24h\n    keep: {last: 3}\n"
    )
    if holder == "retain":  # apply two days ago, so the first retain has a snapshot to take
        control(local_server, "/_local/clock", {"offset_seconds": -2 * DAY})
        assert rlstate(local_server, tmp_path, "apply", "rlstate.yaml", "--yes").returncode == 0
        control(local_server, "/_local/clock", {"offset_seconds": 0})
    control(local_server, "/_local/faults", {"latency_ms": 400})  # the first run takes seconds
    args = ("rlstate.yaml", "--yes") if holder == "apply" else ()
    first = _start(local_server, tmp_path, holder, *args)
    _holding_lock(first, tmp_path / ".rlstate" / "nightly.lock")
    second = rlstate(local_server, tmp_path, "retain")
    first_out, first_err = first.communicate(timeout=120)
    control(local_server, "/_local/faults", {"latency_ms": 0})
    assert first.returncode == 0, first_out + first_err
    assert (second.returncode, second.stdout) == (1, "")
    message = second.stderr.strip()
    assert message.startswith("error: stack 'nightly' is locked by another rlstate run: pid ")
    assert f" ({holder}), since " in message and len(message.splitlines()) == 1
    again = rlstate(local_server, tmp_path, "retain")  # the lock is free again; nothing is due
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert len(snapshots(local_server)) == (2 if holder == "retain" else 1)


def test_status_gives_the_age_of_each_series_newest_complete_snapshot(
    local_server: Any, tmp_path: Path, devbox: str
) -> None:
    manifest(tmp_path, devbox, keep="{last: 5}")
    nights_ago(local_server, tmp_path, 3)
    newest = nights_ago(local_server, tmp_path, 2)
    text = rlstate(local_server, tmp_path, "status")
    data = rlstate(local_server, tmp_path, "status", "--json")
    assert (text.returncode, data.returncode) == (0, 0)
    assert "snapshot.golden" in text.stdout
    assert "2 snapshots, newest complete 2.0d ago" in text.stdout
    series = json.loads(data.stdout)["series"]["snapshot.golden"]
    assert series["newest_complete"] == newest and series["snapshots"] == 2
    assert abs(series["newest_complete_age_seconds"] - 2 * DAY) < 120
