"""Snapshots that ended in `error`, which the API refuses to delete (409), against the real local
backend and the real CLI in subprocesses.

The manifest says such snapshots are deleted once older than the newest complete one; the API
keeps them. So rlstate tries once, and on the 409 leaves the snapshot in place, marked
`rlstate.delete_refused=error`: `retain`, `apply` and `destroy` still exit 0 and say so, and the
stack then plans no changes (a nightly cron job must not fail, or retry, every night).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retain_support import (
    STACK_KEY,
    BackendClock,
    all_snapshots,
    events,
    rlstate,
    summary,
    write_manifest,
)

DAY = 86400.0
MARK = "rlstate.delete_refused"
LEFT = "ended in error; the API refused to delete it"
SERIES = {"golden": {"devbox": "builder", "every": "24h", "keep": {"last": 2}}}


def _run(server: Any, cwd: Path, command: str, *args: str) -> tuple[int, str]:
    done = rlstate(server.url, server.token, cwd, *args, command=command)
    return done.returncode, done.stdout + done.stderr


def _stack(server: Any) -> dict[str, tuple[str, dict[str, str]]]:
    """The stack's live snapshots: id → (status, metadata)."""
    clock = BackendClock(server)
    try:
        out = {}
        for snap in all_snapshots(_client(server)):
            meta = dict(snap.metadata or {})
            if meta.get(STACK_KEY) == "nightly":
                status = clock.http.get(f"/v1/devboxes/disk_snapshots/{snap.id}/status")
                out[snap.id] = (status.json()["status"], meta)
        return out
    finally:
        clock.close()


def _client(server: Any) -> Any:
    from retain_support import sdk

    return sdk(server)


def _errors(server: Any) -> dict[str, dict[str, str]]:
    return {i: meta for i, (status, meta) in _stack(server).items() if status == "error"}


def _failed_apply(server: Any, cwd: Path, manifest: Path) -> str:
    """An apply whose series snapshot ends in error (exit 1); the id of that snapshot."""
    clock = BackendClock(server)
    clock.faults(snapshot_error_rate=1.0)
    code, out = _run(server, cwd, "apply", str(manifest), "--yes")
    clock.faults(snapshot_error_rate=0.0)
    clock.close()
    assert code == 1 and "ended in error" in out, out
    (failed,) = _errors(server)
    return failed


def _converged(server: Any, cwd: Path, manifest: Path) -> str:
    code, out = _run(server, cwd, "plan", str(manifest), "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out
    return out


def test_retain_leaves_an_old_error_snapshot_marked_and_exits_0(
    local_server: Any, tmp_path: Path
) -> None:
    clock = BackendClock(local_server)
    manifest = write_manifest(tmp_path, SERIES, devboxes=True)
    clock.set_offset(-2 * DAY)
    assert _run(local_server, tmp_path, "apply", str(manifest), "--yes")[0] == 0
    clock.set_offset(-DAY)
    clock.faults(snapshot_error_rate=1.0)
    code, out = _run(local_server, tmp_path, "retain", str(manifest))
    clock.faults(snapshot_error_rate=0.0)
    assert code == 1 and "ended in error" in out, out  # that night's own snapshot failed
    (failed,) = _errors(local_server)
    clock.set_offset(0)
    code, out = _run(local_server, tmp_path, "retain", str(manifest), "--json")
    assert code == 0, out
    done = [e for e in events(out) if e.get("kind") == "prune" and e.get("state") == "done"]
    assert [e["snapshot"] for e in done] == [failed]
    assert "left in place" in done[0]["message"]
    assert (summary(out)["pruned"], summary(out)["left"], summary(out)["failed"]) == (0, 1, 0)
    assert _errors(local_server)[failed][MARK] == "error"
    # Later runs leave it alone: nothing to prune, nothing printed, no changes planned.
    code, dry = _run(local_server, tmp_path, "retain", str(manifest), "--dry-run", "--json")
    assert code == 0 and not [e for e in events(dry) if e.get("kind") == "prune"], dry
    rows = {e["snapshot"]: e for e in events(dry) if e["event"] == "retention"}
    assert rows[failed]["left"] and rows[failed]["reasons"] == [LEFT]
    assert summary(dry)["kept"] == 2
    assert _run(local_server, tmp_path, "retain", str(manifest)) == (0, "")
    _converged(local_server, tmp_path, manifest)
    clock.close()


def test_apply_prunes_an_error_snapshot_once_then_converges(
    local_server: Any, tmp_path: Path
) -> None:
    # keep last 1: the error snapshot cannot be kept by `last` even if it were complete, so
    # the plan reads its status (a plan reads only the statuses its decisions depend on).
    latest = {"golden": {**SERIES["golden"], "keep": {"last": 1}}}
    manifest = write_manifest(tmp_path, latest, devboxes=True)
    failed = _failed_apply(local_server, tmp_path, manifest)
    code, out = _run(local_server, tmp_path, "apply", str(manifest), "--yes")
    assert code == 0 and "has been taken" in out, out  # the series' first complete snapshot
    code, out = _run(local_server, tmp_path, "plan", str(manifest), "--detailed-exitcode")
    assert code == 2 and f"prune snapshot.golden {failed}" in out, out
    code, out = _run(local_server, tmp_path, "apply", str(manifest), "--yes")
    assert code == 0 and f"snapshot {failed} ended in error" in out and "left in place" in out
    assert _errors(local_server) == {failed: _errors(local_server)[failed]}
    assert _errors(local_server)[failed][MARK] == "error"
    assert failed not in _converged(local_server, tmp_path, manifest)


def test_destroy_leaves_an_error_snapshot_and_exits_0(local_server: Any, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, SERIES, devboxes=True)
    failed = _failed_apply(local_server, tmp_path, manifest)
    code, out = _run(local_server, tmp_path, "destroy", str(manifest), "--yes")
    assert code == 0, out
    assert "1 snapshot(s) left in place" in out and "everything else is gone" in out
    assert f"snapshot {failed} ended in error" in out
    assert set(_stack(local_server)) == {failed}  # every other snapshot of the stack is gone
    assert _errors(local_server)[failed][MARK] == "error"
    code, again = _run(local_server, tmp_path, "destroy", str(manifest), "--yes", "--json")
    assert code == 0, again
    assert summary(again)["left_behind"] == [{"id": f"snapshot.golden {failed}", "reason": LEFT}]
    code, text = _run(local_server, tmp_path, "destroy", str(manifest), "--yes")
    assert code == 0 and "No changes." in text
    assert f"left in place: snapshot.golden {failed} ({LEFT})" in text


def test_a_removed_series_leaves_its_error_snapshot(local_server: Any, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, SERIES, devboxes=True)
    failed = _failed_apply(local_server, tmp_path, manifest)
    write_manifest(tmp_path, {}, devboxes=True)
    code, out = _run(local_server, tmp_path, "apply", str(manifest), "--yes")
    assert code == 0 and f"snapshot {failed} ended in error" in out, out
    assert set(_stack(local_server)) == {failed}
    text = _converged(local_server, tmp_path, manifest)
    assert f"left in place: snapshot.golden {failed} ({LEFT})" in text
