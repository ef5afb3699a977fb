"""`rlstate check`: Nagios exit codes for each state of a series, and the Prometheus file.

The series' snapshots are made with the official SDK, carrying the stamps `retain` leaves
(ownership, seen complete, last run); the backend's clock makes them fresh or stale. The check
runs as a real subprocess; the metrics file is parsed with prometheus_client's own parser, also
while another check rewrites it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from retain_support import BackendClock, rlstate, sdk

HOUR = 3600.0
MANIFEST = """\
version: 1
stack: nightly
snapshots:
  golden: {{devbox: {devbox}, every: 24h, keep: {{last: 3}}}}
{extra}"""


def _setup(local_server: Any, tmp_path: Path, extra: str = "") -> tuple[Any, str]:
    client = sdk(local_server)
    devbox = client.devboxes.create_and_await_running(name="builder").id
    (tmp_path / "rlstate.yaml").write_text(MANIFEST.format(devbox=devbox, extra=extra))
    return client, devbox


def _snapshot(client: Any, clock: BackendClock, devbox: str, last_run: str) -> str:
    meta = {
        "rlstate.stack": "nightly",
        "rlstate.kind": "snapshot",
        "rlstate.name": "golden",
        "rlstate.series": "golden",
        "rlstate.state": "complete",
        "rlstate.last_run": f"{clock.now().strftime('%Y-%m-%dT%H:%M:%SZ')} {last_run}",
    }
    return str(client.devboxes.snapshot_disk(devbox, metadata=meta).id)


def _check(local_server: Any, tmp_path: Path, *args: str) -> tuple[int, str]:
    result = rlstate(local_server.url, local_server.token, tmp_path, *args, command="check")
    return result.returncode, result.stdout


def test_exit_codes_for_fresh_stale_never_run_and_failed(local_server: Any, tmp_path: Path) -> None:
    clock = BackendClock(local_server)
    client, devbox = _setup(local_server, tmp_path)
    code, out = _check(local_server, tmp_path)
    assert (code, out.split(" - ")[0]) == (2, "CRITICAL"), out  # never run
    assert "snapshot.golden: no complete snapshot" in out
    _snapshot(client, clock, devbox, "ok")
    code, out = _check(local_server, tmp_path)
    assert (code, out.count("\n")) == (0, 1) and out.startswith("OK - snapshot.golden"), out
    clock.set_offset(30 * HOUR)  # still inside 1.5 x every
    assert _check(local_server, tmp_path)[0] == 0
    clock.set_offset(37 * HOUR)  # the API's clock moved on; this host's did not
    code, out = _check(local_server, tmp_path)
    assert code == 2 and "(alert after 1d12h)" in out, out
    assert _check(local_server, tmp_path, "--max-age", "2d")[0] == 0
    _snapshot(client, clock, devbox, "failed")
    code, out = _check(local_server, tmp_path)
    assert code == 1 and out.startswith("WARNING - ") and "its last run failed" in out, out
    clock.close()


def test_unreachable_api_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "rlstate.yaml").write_text(MANIFEST.format(devbox="dbx_x", extra=""))
    result = rlstate("http://127.0.0.1:9", "token", tmp_path, command="check")
    assert result.returncode == 3, result
    assert result.stdout.startswith("UNKNOWN - ") and result.stdout.count("\n") == 1


def test_the_metrics_file_parses_and_is_never_seen_half_written(
    local_server: Any, tmp_path: Path
) -> None:
    clock = BackendClock(local_server)
    client, devbox = _setup(local_server, tmp_path)
    _snapshot(client, clock, devbox, "ok")
    target = tmp_path / "rlstate.prom"
    code, _ = _check(local_server, tmp_path, "--prometheus", str(target))
    assert code == 0
    families = {f.name: f for f in text_string_to_metric_families(target.read_text())}
    (kept,) = families["rlstate_snapshots_kept"].samples
    assert kept.labels == {"stack": "nightly", "series": "golden"} and kept.value == 1
    (ok,) = families["rlstate_last_run_success"].samples
    assert ok.value == 1
    seen: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(target.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(3):
            assert _check(local_server, tmp_path, "--prometheus", str(target))[0] == 0
    finally:
        stop.set()
        reader.join()
    assert seen
    for text in seen:  # every read is a whole file: every family with its one series
        names = {f.name for f in text_string_to_metric_families(text)}
        assert len(names) == 6, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rlstate.prom", "rlstate.yaml"]
    clock.close()


def test_a_folder_given_as_the_metrics_file_is_named_before_any_work(
    local_server: Any, tmp_path: Path
) -> None:
    """`--prometheus DIR` (the textfile collector's folder, not a file in it) is one clear line:
    UNKNOWN from check; from retain an error before it takes the night's snapshot."""
    client, devbox = _setup(local_server, tmp_path)
    folder = tmp_path / "textfile"
    folder.mkdir()
    said = f"{folder}: is a folder; --prometheus takes a file, e.g. {folder}/rlstate.prom"
    code, out = _check(local_server, tmp_path, "--prometheus", str(folder))
    assert (code, out) == (3, f"UNKNOWN - {said}\n")
    result = rlstate(local_server.url, local_server.token, tmp_path, "--prometheus", str(folder))
    assert (result.returncode, result.stderr) == (1, f"error: {said}\n")
    assert client.devboxes.disk_snapshots.list(devbox_id=devbox).snapshots == []
    assert list(folder.iterdir()) == []
