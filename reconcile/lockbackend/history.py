"""Run history in the lock backend's database: a row when an apply, destroy or retain starts,
completed when it ends, with one row per action result; and the listing `rlstate history` shows.

A run whose end was never written (killed, or the database went away) lists as `unfinished`,
or `running` while its session still holds the stack lock. Writes at the end of a run use a
fresh connection when the run's own has failed (the lock is lost, the record need not be).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from reconcile.lockbackend import Holder, StackKey
from reconcile.lockbackend.pg import Connection, connect, explain
from reconcile.lockbackend.postgres import PgBackend, _halves, lock_key
from reconcile.lockbackend.records import ActionResult, RunEnd

_RUNS_SQL = """
SELECT r.id, r.command, r.run_user, r.host, r.pid, r.started_at, r.ended_at, r.exit_status,
       r.plan_digest, r.counts, r.summary, r.error,
       EXISTS (SELECT 1 FROM pg_locks l
               WHERE l.pid = r.backend_pid AND l.locktype = 'advisory' AND l.granted
                 AND l.objsubid = 1 AND l.classid::bigint = %(hi)s
                 AND l.objid::bigint = %(lo)s) AS live
FROM rlstate_runs r
WHERE r.stack = %(stack)s AND r.api = %(api)s
ORDER BY r.started_at DESC, r.id DESC
LIMIT %(limit)s
"""
_ACTIONS_SQL = """
SELECT run_id, action_id, address, kind, state, message, resource_id
FROM rlstate_run_actions WHERE run_id = ANY(%s) ORDER BY run_id, seq
"""


@dataclass(frozen=True)
class RunRow:
    """One run as `rlstate history` lists it."""

    id: int
    command: str
    user: str
    host: str
    pid: int
    started_at: datetime
    ended_at: datetime | None
    exit_status: int | None
    plan_digest: str | None
    counts: dict[str, int]
    summary: dict[str, Any] | None
    error: str | None
    state: str  # finished, running, unfinished
    actions: tuple[ActionResult, ...] = ()


class PgHistory:
    """The history table of one backend."""

    def __init__(self, backend: PgBackend) -> None:
        self.backend = backend
        self.choice = backend.choice

    def start(self, key: StackKey, holder: Holder, lock_number: int | None) -> int:
        """Records a run's start; its id."""
        conn = self.backend.conn
        try:
            row = conn.execute(
                "INSERT INTO rlstate_runs (stack, api, command, run_user, host, pid, backend_pid)"
                " VALUES (%s, %s, %s, %s, %s, %s, pg_backend_pid()) RETURNING id",
                (key.stack, key.api, holder.command, holder.user, holder.host, holder.pid),
            ).fetchone()
            assert row is not None
            run_id = int(row[0])
            if lock_number is not None:
                conn.execute(
                    "UPDATE rlstate_locks SET run_id = %s"
                    " WHERE lock_key = %s AND backend_pid = pg_backend_pid()",
                    (run_id, lock_number),
                )
        except psycopg.Error as error:
            raise explain(error, self.choice, "cannot record the run in its history") from None
        return run_id

    def finish(self, run_id: int, end: RunEnd) -> None:
        """Records a run's end, on a fresh connection when the run's own has failed."""
        conn = self.backend.conn
        if conn.closed or conn.broken:
            conn = connect(self.choice)
        try:
            try:
                self._write_end(conn, run_id, end)
            except psycopg.OperationalError:
                if conn is not self.backend.conn:
                    raise
                conn = connect(self.choice)
                self._write_end(conn, run_id, end)
        except psycopg.Error as error:
            raise explain(error, self.choice, "cannot record the end of the run") from None
        finally:
            if conn is not self.backend.conn:
                conn.close()

    @staticmethod
    def _write_end(conn: Connection, run_id: int, end: RunEnd) -> None:
        from psycopg.types.json import Jsonb

        with conn.transaction():
            conn.execute(
                "UPDATE rlstate_runs SET ended_at = now(), exit_status = %s, plan_digest = %s,"
                " counts = %s, summary = %s, error = %s WHERE id = %s",
                (
                    end.exit_status,
                    end.plan_digest,
                    Jsonb(end.counts),
                    Jsonb(end.summary) if end.summary is not None else None,
                    end.error,
                    run_id,
                ),
            )
            rows = [
                (run_id, seq, a.id, a.address, a.kind, a.state, a.message, a.resource_id)
                for seq, a in enumerate(end.actions)
            ]
            if rows:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO rlstate_run_actions (run_id, seq, action_id, address, kind,"
                        " state, message, resource_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT DO NOTHING",
                        rows,
                    )

    def runs(self, key: StackKey, limit: int) -> list[RunRow]:
        """The stack's newest runs first, each with its action results."""
        params = {**_halves(lock_key(key)), "stack": key.stack, "api": key.api, "limit": limit}
        try:
            found = self.backend.conn.execute(_RUNS_SQL, params).fetchall()
            ids = [int(row[0]) for row in found]
            actions: dict[int, list[ActionResult]] = {i: [] for i in ids}
            if ids:
                for row in self.backend.conn.execute(_ACTIONS_SQL, (ids,)).fetchall():
                    actions[int(row[0])].append(ActionResult(*row[1:]))
        except psycopg.Error as error:
            raise explain(error, self.choice, "cannot read the run history") from None
        return [_row(row, tuple(actions[int(row[0])])) for row in found]


def _row(row: Sequence[Any], actions: tuple[ActionResult, ...]) -> RunRow:
    (
        run_id,
        command,
        user,
        host,
        pid,
        started,
        ended,
        status,
        digest,
        counts,
        summary,
        error,
        live,
    ) = row
    state = "finished" if ended is not None else "running" if live else "unfinished"
    return RunRow(
        id=int(run_id),
        command=command,
        user=user,
        host=host,
        pid=int(pid),
        started_at=started,
        ended_at=ended,
        exit_status=status,
        plan_digest=digest,
        counts=dict(counts or {}),
        summary=summary,
        error=error,
        state=state,
        actions=actions,
    )
