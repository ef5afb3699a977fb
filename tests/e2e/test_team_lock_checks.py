"""A held PostgreSQL lock is checked before every write without a database round trip per write:
the server is asked at most once a second, and the run's last look always asks."""

from __future__ import annotations

import psycopg
import pytest
import team_support

from reconcile.errors import LockLostError
from reconcile.lockbackend import StackKey
from reconcile.lockbackend.postgres import CHECK_EVERY_SECONDS, PgBackend, PgLock
from reconcile.lockbackend.settings import BackendChoice

pg = team_support.pg
pg_url = team_support.pg_url


def _held(pg_url: str, ticks: list[float]) -> tuple[PgBackend, PgLock]:
    backend = PgBackend(BackendChoice(url=pg_url, source="test"))
    held = backend.try_acquire(StackKey("checks", "http://api.example"), "test")
    assert isinstance(held, PgLock)
    held.clock = lambda: ticks[0]
    return backend, held


def _end_session(pg_url: str, backend: PgBackend) -> None:
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend.conn.info.backend_pid,))


def test_a_lost_session_is_found_within_a_second_of_writes_not_at_every_write(
    pg_url: str,
) -> None:
    ticks = [100.0]
    backend, held = _held(pg_url, ticks)
    try:
        held.check_held()  # asks the server: the session is there
        _end_session(pg_url, backend)

        held.check_held()  # the same instant: answered from the last look
        ticks[0] += CHECK_EVERY_SECONDS / 2
        held.check_held()
        ticks[0] += CHECK_EVERY_SECONDS / 2
        with pytest.raises(LockLostError, match="lost the lock of stack 'checks'"):
            held.check_held()
        with pytest.raises(LockLostError):  # and stays lost for every later write
            held.check_held()
    finally:
        backend.close()


def test_the_runs_last_look_asks_the_server_whatever_the_time(pg_url: str) -> None:
    ticks = [100.0]
    backend, held = _held(pg_url, ticks)
    try:
        held.check_held()
        _end_session(pg_url, backend)
        with pytest.raises(LockLostError, match="lost the lock of stack 'checks'"):
            held.check_held(fresh=True)
    finally:
        backend.close()
