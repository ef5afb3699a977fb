"""The shared lock is per stack and per API; apply and retain of one stack from two hosts run
one after the other; `rlstate history` lists every run, failed and interrupted ones too."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import team_support
from apply_support import by_name, sdk, snapshots, summary
from pg_support import SUPER_PASSWORD, SUPERUSER
from team_support import Event, finish, history, hosts, read_until, team, team_start

from reconcile.lockbackend import StackKey
from reconcile.lockbackend.postgres import PgBackend
from reconcile.lockbackend.settings import BackendChoice

pg = team_support.pg
pg_url = team_support.pg_url

RACE = """\
version: 1
stack: race
devboxes:
  builder:
    setup: ["echo built > /home/user/BUILD"]
  worker:
    from_snapshot: golden
    replicas: {replicas}
    setup: ["sleep 4"]
snapshots:
  golden:
    devbox: builder
    every: 1s
    keep: {{last: 1}}
"""


def test_a_lock_is_per_stack_and_per_api(local_server: Any, tmp_path: Path, pg_url: str) -> None:
    (work,) = hosts(tmp_path, 1, sleep_s=0)
    backend = PgBackend(BackendChoice(url=pg_url, source="test"))
    try:
        other_stack = backend.try_acquire(StackKey("combined", local_server.url), "test")
        other_api = backend.try_acquire(StackKey("team", "https://api.elsewhere.example"), "t")
        assert hasattr(other_stack, "check_held") and hasattr(other_api, "check_held")
        free = team(local_server, work, pg_url, "apply", "team.yaml", "--yes")
        mine = backend.try_acquire(StackKey("team", local_server.url), "held by the test")
        assert hasattr(mine, "check_held")
        blocked = team(local_server, work, pg_url, "destroy", "team.yaml", "--yes")
    finally:
        backend.close()

    assert free.returncode == 0, free.stderr
    assert blocked.returncode == 1
    assert "stack 'team' is locked by another rlstate run" in blocked.stderr
    assert "(held by the test)" in blocked.stderr
    assert set(by_name(sdk(local_server), "team")) == {"slow", "quick"}


def test_apply_and_retain_from_two_hosts_run_one_after_the_other(
    local_server: Any, tmp_path: Path, pg_url: str
) -> None:
    laptop, cron = hosts(tmp_path, 2, sleep_s=0)
    for folder in (laptop, cron):
        (folder / "race.yaml").write_text(RACE.format(replicas=1))
    assert team(local_server, laptop, pg_url, "apply", "race.yaml", "--yes").returncode == 0
    (before,) = [s.id for s in snapshots(sdk(local_server), "race")]
    (laptop / "race.yaml").write_text(RACE.format(replicas=2))

    seen: list[Event] = []
    apply = team_start(local_server, laptop, pg_url, "apply", "race.yaml", "--yes", "--json")
    read_until(apply, seen, lambda e: "setup 1/1" in e.get("message", ""))
    retain = team(
        local_server, cron, pg_url, "retain", "race.yaml", "--json", "--lock-timeout", "4m"
    )
    code, err = finish(apply, seen)

    assert code == 0, err
    assert [e["result"] for e in seen if e.get("event") == "summary"] == ["converged"]
    assert retain.returncode == 0, retain.stderr
    assert "waiting up to 4m for the lock of stack 'race'" in retain.stderr
    assert summary(retain.stdout)["pruned"] == 1
    runs = history(local_server, cron, pg_url, "race.yaml")
    assert [r["command"] for r in runs] == ["retain", "apply", "apply"]
    assert runs[1]["ended_at"] <= runs[0]["started_at"]  # one after the other
    restored = [e["message"] for e in seen if e.get("state") == "done" and e["kind"] == "restore"]
    assert restored and f"restored from {before} " in restored[0]
    prunes = [a for a in runs[0]["actions"] if a["kind"] == "prune"]
    assert [a["state"] for a in prunes] == ["done"] and prunes[0]["resource_id"] != before
    assert before in {s.id for s in snapshots(sdk(local_server), "race")}
    assert runs[0]["counts"]["taken"] == 1 and runs[0]["counts"]["pruned"] == 1
    assert set(by_name(sdk(local_server), "race")) == {"builder", "worker-0", "worker-1"}


BROKEN = "  broken:\n    setup: ['exit 3']\n"
LATER = "  later{n}:\n    setup: ['sleep 6']\n"


def test_history_lists_every_run_with_counts_results_and_interruptions(
    local_server: Any, tmp_path: Path, pg_url: str
) -> None:
    (work,) = hosts(tmp_path, 1, sleep_s=0)
    manifest = work / "team.yaml"
    base = manifest.read_text()
    ok = team(local_server, work, pg_url, "apply", "team.yaml", "--yes")
    manifest.write_text(base + BROKEN)
    failed = team(local_server, work, pg_url, "apply", "team.yaml", "--yes")
    interrupted = []
    for n, sig in enumerate((signal.SIGTERM, signal.SIGKILL)):
        manifest.write_text(base + "".join(LATER.format(n=i) for i in range(n + 1)))
        seen: list[Event] = []
        proc = team_start(local_server, work, pg_url, "apply", "team.yaml", "--yes", "--json")
        read_until(proc, seen, lambda e: "setup 1/1" in e.get("message", ""))
        proc.send_signal(sig)
        interrupted.append(finish(proc, seen)[0])
    manifest.write_text(base)
    destroyed = team(local_server, work, pg_url, "destroy", "team.yaml", "--yes")

    assert (ok.returncode, failed.returncode, destroyed.returncode) == (0, 1, 0)
    assert interrupted[1] == -signal.SIGKILL  # SIGTERM lets in-flight work end: any status
    runs = history(local_server, work, pg_url, "team.yaml")
    assert [(r["command"], r["state"], r["exit_status"]) for r in runs] == [
        ("destroy", "finished", 0),
        ("apply", "unfinished", None),
        ("apply", "finished", interrupted[0]),
        ("apply", "finished", 1),
        ("apply", "finished", 0),
    ]
    assert runs[4]["counts"] == {"done": 2, "failed": 0, "skipped": 0}
    assert runs[3]["counts"] == {"done": 0, "failed": 1, "skipped": 0}
    assert [(a["address"], a["state"]) for a in runs[3]["actions"]] == [("devbox.broken", "failed")]
    assert "exit" in runs[3]["actions"][0]["message"]
    assert runs[2]["summary"]["event"] == "summary"  # the stopped run's own summary
    assert runs[0]["counts"]["failed"] == 0
    assert runs[0]["counts"]["done"] == len(runs[0]["actions"]) >= 4  # later0, later1 and more
    assert all(r["plan_digest"] for r in runs if r["state"] == "finished")
    assert all(r["user"] and r["host"] and r["pid"] for r in runs)
    text = team(local_server, work, pg_url, "history", "team.yaml", "--limit", "2")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"#{runs[0]['id']} ") and "UNFINISHED" in text.stdout
    assert f"#{runs[2]['id']} " not in text.stdout


README_GRANTS = """
CREATE ROLE rlstate_ci LOGIN PASSWORD 'ci-pw';
GRANT CONNECT ON DATABASE {db} TO rlstate_ci;
GRANT USAGE ON SCHEMA public TO rlstate_ci;
GRANT SELECT ON rlstate_schema TO rlstate_ci;
GRANT SELECT, INSERT, UPDATE, DELETE ON rlstate_locks, rlstate_runs, rlstate_run_actions
  TO rlstate_ci;
GRANT USAGE ON SEQUENCE rlstate_runs_id_seq TO rlstate_ci;
"""


def test_the_readme_grants_are_enough_once_the_tables_exist(
    local_server: Any, tmp_path: Path, pg: Any, pg_url: str
) -> None:
    import psycopg

    (work,) = hosts(tmp_path, 1, sleep_s=0)
    PgBackend(BackendChoice(url=pg_url, source="test")).close()  # the owner creates the tables
    db = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg.url(SUPERUSER, SUPER_PASSWORD, db), autocommit=True) as owner:
        for statement in README_GRANTS.format(db=db).split(";"):
            if statement.strip():
                owner.execute(statement)  # type: ignore[call-overload]
    ci_url = pg.url("rlstate_ci", "ci-pw", db)

    applied = team(local_server, work, ci_url, "apply", "team.yaml", "--yes")
    status = team(local_server, work, ci_url, "lock", "status", "team.yaml")
    runs = history(local_server, work, ci_url, "team.yaml")

    assert applied.returncode == 0, applied.stderr
    assert status.returncode == 0 and "is not locked" in status.stdout, status.stderr
    assert (runs[0]["command"], runs[0]["exit_status"]) == ("apply", 0)
