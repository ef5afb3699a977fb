"""The PostgreSQL stack lock across "hosts": one run at a time, no stale locks after a kill,
a lost backend stops the holder before its next write, and locks are per stack and API."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import team_support
from apply_support import by_name, converged, sdk, summary
from pg_support import PgServer
from team_support import Event, finish, history, hosts, read_until, team, team_start, wait_for

pg = team_support.pg
pg_url = team_support.pg_url


def _sleeping(event: Event) -> bool:
    return "setup 1/2" in event.get("message", "")


def test_a_second_host_fails_at_once_naming_the_holder_or_waits_and_finds_no_changes(
    local_server: Any, tmp_path: Path, pg_url: str
) -> None:
    first, second, third = hosts(tmp_path, 3, sleep_s=12)  # wide enough for a loaded machine
    seen: list[Event] = []
    holder = team_start(local_server, first, pg_url, "apply", "team.yaml", "--yes", "--json")
    read_until(holder, seen, _sleeping)

    waiter = team_start(
        local_server, third, pg_url, "apply", "team.yaml", "--yes", "--lock-timeout", "4m"
    )
    refused = team(local_server, second, pg_url, "apply", "team.yaml", "--yes")
    code, err = finish(holder, seen)
    waited_out, waited_err = waiter.communicate(timeout=240)

    assert code == 0, err
    assert refused.returncode == 1, refused.stdout
    assert "stack 'team' is locked by another rlstate run" in refused.stderr
    named = [p for p in (holder.pid, waiter.pid) if f"pid {p} on " in refused.stderr]
    assert len(named) == 1 and "(apply)" in refused.stderr, refused.stderr
    assert "team-secret-pw" not in refused.stderr
    assert waiter.returncode == 0, waited_err
    assert "waiting up to 4m for the lock of stack 'team'" in waited_err
    assert "No changes." in waited_out
    assert set(by_name(sdk(local_server), "team")) == {"slow", "quick"}
    assert not (first / ".rlstate" / "team.lock").exists()  # not the file lock: the shared one


def test_a_killed_holder_frees_the_lock_with_its_session_and_the_next_run_converges(
    local_server: Any, tmp_path: Path, pg: PgServer, pg_url: str
) -> None:
    first, second = hosts(tmp_path)
    db = pg_url.rsplit("/", 1)[1]
    seen: list[Event] = []
    holder = team_start(local_server, first, pg_url, "apply", "team.yaml", "--yes", "--json")
    read_until(holder, seen, _sleeping)
    assert pg.advisory_holders(db)

    holder.send_signal(signal.SIGKILL)
    holder.wait()
    killed_at = time.monotonic()
    wait_for(lambda: not pg.advisory_holders(db), "the server to free the killed run's lock")
    freed_after = time.monotonic() - killed_at
    again = team(local_server, second, pg_url, "apply", "team.yaml", "--yes", "--json")

    assert again.returncode == 0, again.stderr
    assert summary(again.stdout)["result"] == "converged"
    assert converged(local_server, second, "team.yaml")
    assert set(by_name(sdk(local_server), "team")) == {"slow", "quick"}
    print(f"lock freed {freed_after:.2f}s after SIGKILL")


def test_a_restarted_server_stops_the_holder_before_its_next_write(
    local_server: Any, tmp_path: Path, pg: PgServer, pg_url: str
) -> None:
    first, second = hosts(tmp_path)
    seen: list[Event] = []
    holder = team_start(local_server, first, pg_url, "apply", "team.yaml", "--yes", "--json")
    read_until(holder, seen, _sleeping)

    pg.restart()
    code, err = finish(holder, seen)
    again = team(local_server, second, pg_url, "apply", "team.yaml", "--yes", "--json")

    assert code == 1, err
    assert "lost the lock of stack 'team'" in err.splitlines()[-1]
    assert "team-secret-pw" not in err
    failed = [e for e in seen if e.get("state") == "failed"]
    assert [e["address"] for e in failed] == ["devbox.slow"]
    assert "lost the lock" in failed[0]["message"]
    assert again.returncode == 0, again.stderr
    assert converged(local_server, second, "team.yaml")
    assert set(by_name(sdk(local_server), "team")) == {"slow", "quick"}
    lost = [r for r in history(local_server, second, pg_url, "team.yaml") if r["pid"] == holder.pid]
    assert [(r["state"], r["exit_status"]) for r in lost] == [("finished", 1)]  # end recorded
    assert "lost the lock" in lost[0]["error"]


def test_lock_status_names_a_stuck_holder_and_release_force_stops_it(
    local_server: Any, tmp_path: Path, pg_url: str
) -> None:
    first, second = hosts(tmp_path, 2, sleep_s=12)
    seen: list[Event] = []
    holder = team_start(local_server, first, pg_url, "apply", "team.yaml", "--yes", "--json")
    read_until(holder, seen, _sleeping)

    status = team(local_server, second, pg_url, "lock", "status", "team.yaml", "--json")
    released = team(local_server, second, pg_url, "lock", "release", "team.yaml", "--force")
    code, err = finish(holder, seen)
    after = team(local_server, second, pg_url, "lock", "status", "team.yaml")
    again = team(local_server, second, pg_url, "apply", "team.yaml", "--yes")

    data = json.loads(status.stdout)
    assert (data["locked"], data["backend"], data["api"]) == (True, "postgres", local_server.url)
    assert (data["holder"]["pid"], data["holder"]["command"]) == (holder.pid, "apply")
    assert released.returncode == 0, released.stderr
    assert f"released the lock of stack 'team' held by pid {holder.pid} on " in released.stdout
    assert code == 1 and "lost the lock of stack 'team'" in err.splitlines()[-1]
    assert "is not locked" in after.stdout
    assert again.returncode == 0, again.stderr
    assert set(by_name(sdk(local_server), "team")) == {"slow", "quick"}
