"""The "keep only the latest snapshot of a devbox" clean-up, done with `rlstate retain`.

The devbox is not rlstate's (made with the official SDK), named by id in the manifest, and
another tool took its snapshots. Without `prune_unmanaged` those snapshots are untouched;
with it they are pruned, never the newest complete one and never one still in progress; the
dry run changes nothing and names exactly what the real run deletes; the output reads as a
keep-latest clean-up. Runs the real CLI in a subprocess through a recording proxy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retain_support import (
    BackendClock,
    events,
    mutating,
    recording_proxy,
    rlstate,
    sdk,
    summary,
)
from runloop_api_client import Runloop

MANIFEST = """\
version: 1
stack: nightly
snapshots:
  latest:
    devbox: {devbox}
    keep: {{last: 1}}
    prune_unmanaged: {prune}
    max_prune: 100%  # a clean-up down to one snapshot prunes most of them at once, on purpose
"""


def _manifest(folder: Path, devbox: str, prune: bool) -> Path:
    path = folder / "rlstate.yaml"
    path.write_text(MANIFEST.format(devbox=devbox, prune=str(prune).lower()))
    return path


def _other_tool(client: Runloop, devbox: str, count: int) -> list[str]:
    """Snapshots another tool takes (no rlstate metadata)."""
    return [client.devboxes.snapshot_disk(devbox, name=f"manual-{n}").id for n in range(count)]


def _failed_snapshot(client: Runloop, clock: BackendClock, devbox: str) -> str:
    clock.faults(snapshot_error_rate=1.0)
    snap = client.devboxes.snapshot_disk_async(devbox, name="manual-failed")
    for _ in range(500):
        if client.devboxes.disk_snapshots.query_status(snap.id).status != "in_progress":
            break
    clock.faults(snapshot_error_rate=0.0)
    assert client.devboxes.disk_snapshots.query_status(snap.id).status == "error"
    return snap.id


def _live(client: Runloop, devbox: str) -> dict[str, Any]:
    return {s.id: s for s in client.devboxes.disk_snapshots.list(devbox_id=devbox, limit=500)}


def _ours(snaps: dict[str, Any]) -> set[str]:
    return {i for i, s in snaps.items() if (s.metadata or {}).get("rlstate.series") == "latest"}


def _retain(url: str, token: str, cwd: Path, *args: str) -> tuple[int, str]:
    result = rlstate(url, token, cwd, *args)
    assert result.stderr == "" or result.returncode != 0, result.stderr
    return result.returncode, result.stdout


def test_foreign_snapshots_are_untouched_without_prune_unmanaged(
    local_server: Any, tmp_path: Path
) -> None:
    client = sdk(local_server)
    clock = BackendClock(local_server)
    devbox = client.devboxes.create_and_await_running(name="not-rlstate").id
    foreign = {*_other_tool(client, devbox, 3), _failed_snapshot(client, clock, devbox)}
    _manifest(tmp_path, devbox, prune=False)
    with recording_proxy(local_server.url) as (url, log):
        code, out = _retain(url, local_server.token, tmp_path, "--json")
        writes = mutating(log.take())
    assert code == 0, out
    live = _live(client, devbox)
    assert foreign <= set(live)
    (taken,) = _ours(live)  # its own first snapshot of the series
    # the snapshot, then rlstate's "seen complete" mark on its own snapshot's metadata
    assert writes == [
        ("POST", f"/v1/devboxes/{devbox}/snapshot_disk_async"),
        ("POST", f"/v1/devboxes/disk_snapshots/{taken}"),
    ]
    rows = [e for e in events(out) if e["event"] == "retention"]
    assert [(r["snapshot"], r["keep"]) for r in rows] == [(taken, True)]
    assert summary(out)["pruned"] == 0
    clock.close()


def _deleted(writes: list[tuple[str, str]]) -> set[str]:
    return {p.split("/")[4] for m, p in writes if p.endswith("/delete")}


def test_prune_unmanaged_keeps_only_the_latest(local_server: Any, tmp_path: Path) -> None:
    client = sdk(local_server)
    clock = BackendClock(local_server)
    devbox = client.devboxes.create_and_await_running(name="not-rlstate").id
    failed = _failed_snapshot(client, clock, devbox)
    foreign = {*_other_tool(client, devbox, 2), failed}
    foreign |= set(_other_tool(client, devbox, 1))
    _manifest(tmp_path, devbox, prune=True)
    token = local_server.token
    with recording_proxy(local_server.url) as (url, log):
        code, dry_text = _retain(url, token, tmp_path, "--dry-run")
        code_json, dry_json = _retain(url, token, tmp_path, "--dry-run", "--json")
        assert (code, code_json, mutating(log.take())) == (0, 0, [])
        planned = {e["snapshot"] for e in events(dry_json) if e.get("kind") == "prune"}
        code, out = _retain(url, token, tmp_path)
        writes = mutating(log.take())
        again = [_retain(url, token, tmp_path, *args) for args in ((), ("--dry-run", "--json"))]
        assert mutating(log.take()) == []
    assert code == 0, out
    live = _live(client, devbox)
    (taken,) = _ours(live)
    # The API keeps a snapshot that ended in error: its delete is tried once (409), then it
    # is marked so that later runs leave it alone; the other three are gone.
    assert set(live) == {taken, failed}
    assert live[failed].metadata == {"rlstate.delete_refused": "error"}
    assert planned == _deleted(writes) == foreign
    assert ("POST", f"/v1/devboxes/disk_snapshots/{failed}") in writes
    assert "snapshot.latest (keep latest only): 1 kept, 4 would be pruned" in dry_text
    assert "snapshot.latest (keep latest only): 1 kept, 3 pruned, 1 left in place" in out
    for text in (dry_text, out):
        assert text.count("(unmanaged)") == 4
    assert f"keep  {taken} " in out and "last 1/1, newest complete" in out
    assert f"left  {failed} " in out and "the API refused to delete it" in out
    (code, quiet), (code_json, dry_json) = again
    assert (code, quiet, code_json) == (0, "", 0)
    assert not [e for e in events(dry_json) if e.get("kind") == "prune"]
    rows = {e["snapshot"]: e for e in events(dry_json) if e["event"] == "retention"}
    assert rows[failed]["keep"] and rows[failed]["reasons"] == [
        "ended in error; the API refused to delete it"
    ]
    assert summary(dry_json)["left"] == 1 and summary(dry_json)["kept"] == 1
    clock.close()


def test_the_newest_and_a_running_snapshot_stay_whoever_took_them(
    local_server: Any, tmp_path: Path
) -> None:
    client = sdk(local_server)
    clock = BackendClock(local_server)
    devbox = client.devboxes.create_and_await_running(name="not-rlstate").id
    _manifest(tmp_path, devbox, prune=True)
    token = local_server.token
    with recording_proxy(local_server.url) as (url, log):
        assert _retain(url, token, tmp_path)[0] == 0
        (ours,) = _ours(_live(client, devbox))
        (newer,) = _other_tool(client, devbox, 1)
        clock.speed(snapshot_extra_seconds=60)  # stays in progress for this test
        running = client.devboxes.snapshot_disk_async(devbox, name="manual-running").id
        log.take()
        code, out = _retain(url, token, tmp_path, "--json")
        writes = mutating(log.take())
    assert code == 0, out
    assert set(_live(client, devbox)) == {newer, running}
    assert _deleted(writes) == {ours} and len(writes) == 1  # not due: `every` is not set
    reasons = {e["snapshot"]: e["reasons"] for e in events(out) if e["event"] == "retention"}
    assert reasons[newer] == ["last 1/1", "newest complete"]
    assert reasons[running] == ["in progress"]
    assert reasons[ours] == ["not kept by any rule"]
    clock.close()
