"""The PostgreSQL lock backend: a session advisory lock per stack, plus a row naming its holder.

The lock lives on the run's own connection: if the holder dies or its network goes, the
server ends the session and frees the lock (no stale locks, nothing to unlock by hand). The
row in `rlstate_locks` only says who holds it; whether anyone does is always asked of
`pg_locks`, so a row left by a killed holder is never mistaken for a lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from reconcile.errors import BackendError, LockLostError
from reconcile.lockbackend import Holder, StackKey, me
from reconcile.lockbackend.pg import Connection, connect, ensure_schema, explain
from reconcile.lockbackend.settings import BackendChoice

# The session holding an advisory bigint key, and what its row says (when the row is its).
_HOLDER_SQL = """
SELECT l.pid, r.holder_user, r.host, r.pid, r.command, r.since
FROM pg_locks l
LEFT JOIN rlstate_locks r ON r.lock_key = %(key)s AND r.backend_pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid::bigint = %(hi)s AND l.objid::bigint = %(lo)s
"""
_CLAIM_SQL = """
INSERT INTO rlstate_locks
  (lock_key, stack, api, holder_user, host, pid, command, since, backend_pid)
VALUES (%s, %s, %s, %s, %s, %s, %s, now(), pg_backend_pid())
ON CONFLICT (lock_key) DO UPDATE SET
  stack = EXCLUDED.stack, api = EXCLUDED.api, holder_user = EXCLUDED.holder_user,
  host = EXCLUDED.host, pid = EXCLUDED.pid, command = EXCLUDED.command,
  since = EXCLUDED.since, backend_pid = EXCLUDED.backend_pid, run_id = NULL
"""


# How often a write asks the server whether the session (and so the lock) is still there. The
# check runs on the event loop before each write, so asking every time would cost one database
# round trip per API write and hold every request in flight meanwhile; between round trips the
# connection's own state (closed, broken) still stops the next write.
CHECK_EVERY_SECONDS = 1.0


def lock_key(key: StackKey) -> int:
    """The advisory lock's bigint: a hash of the API and the stack name."""
    digest = hashlib.sha256(f"rlstate\0{key.api}\0{key.stack}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _halves(value: int) -> dict[str, int]:
    unsigned = value & 0xFFFFFFFFFFFFFFFF
    return {"key": value, "hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}


def _when(value: datetime | None) -> str:
    if value is None:
        return "an unknown time"
    return value.astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class PgLock:
    """A stack lock this run holds on `conn`."""

    backend: PgBackend
    key: StackKey
    number: int
    holder: Holder
    lost: str | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _asked_at: float = -math.inf

    def check_held(self, fresh: bool = False) -> None:
        """A closed or broken session lost the lock; a round trip on the lock's connection (at
        most once a CHECK_EVERY_SECONDS, or now when `fresh`) finds a session the server ended."""
        conn = self.backend.conn
        if self.lost is None and (conn.closed or conn.broken):
            self.lost = "the connection is closed"
        now = self.clock()
        if self.lost is None and (fresh or now - self._asked_at >= CHECK_EVERY_SECONDS):
            try:
                conn.execute("SELECT 1")
                self._asked_at = now
            except psycopg.Error as error:
                self.lost = " ".join(str(error).split()) or type(error).__name__
        if self.lost is not None:
            raise LockLostError(
                f"lost the lock of stack {self.key.stack!r}: the connection to the lock backend "
                f"{self.backend.choice.shown} failed ({self.lost}); stopped before the next change"
            )

    def release(self) -> None:
        conn = self.backend.conn
        if self.lost is not None or conn.closed or conn.broken:
            return  # the server freed it with the session
        try:
            conn.execute(
                "DELETE FROM rlstate_locks WHERE lock_key = %s AND backend_pid = pg_backend_pid()",
                (self.number,),
            )
            conn.execute("SELECT pg_advisory_unlock(%s)", (self.number,))
        except psycopg.Error:
            return  # a lost session holds nothing


class PgBackend:
    """Stack locks in one PostgreSQL database; one connection per run, which holds the lock."""

    name = "postgres"

    def __init__(self, choice: BackendChoice) -> None:
        self.choice = choice
        self.conn: Connection = connect(choice)
        try:
            ensure_schema(self.conn, choice)
        except BaseException:
            self.conn.close()
            raise

    def place(self, key: StackKey) -> str:
        return f"lock backend {self.choice.shown}, API {key.api}"

    def try_acquire(self, key: StackKey, command: str) -> PgLock | Holder:
        number = lock_key(key)
        try:
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (number,)).fetchone()
            if not (row and row[0]):
                return self.holder(key) or Holder("", "unknown host", 0, "", "a moment ago")
            mine = me(command)
            self.conn.execute(
                _CLAIM_SQL,
                (number, key.stack, key.api, mine.user, mine.host, mine.pid, mine.command),
            )
        except psycopg.Error as error:
            raise explain(error, self.choice, "cannot take the stack lock") from None
        return PgLock(self, key, number, mine)

    def holder(self, key: StackKey) -> Holder | None:
        try:
            row = self.conn.execute(_HOLDER_SQL, _halves(lock_key(key))).fetchone()
        except psycopg.Error as error:
            raise explain(error, self.choice, "cannot read the stack lock") from None
        if row is None:
            return None
        backend_pid, user, host, pid, command, since = row
        if host is None:  # held, but its row is not written yet (or was removed)
            return Holder("", "an unknown host", 0, f"server session {backend_pid}", "a moment ago")
        return Holder(user, host, int(pid), command, _when(since))

    def force_release(self, key: StackKey) -> Holder | None:
        """Ends the holder's server session (which frees its lock) and waits until it has."""
        number = lock_key(key)
        held = self.holder(key)
        try:
            for _ in range(100):
                row = self.conn.execute(_HOLDER_SQL, _halves(number)).fetchone()
                if row is None:
                    break
                self.conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                time.sleep(0.1)
            else:
                raise BackendError(
                    f"{self.place(key)}: the holder's session did not end; is the role allowed "
                    "to end it (same role, or a member of pg_signal_backend)?"
                )
            self.conn.execute("DELETE FROM rlstate_locks WHERE lock_key = %s", (number,))
        except psycopg.Error as error:
            raise explain(error, self.choice, "cannot release the stack lock") from None
        return held

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.close()
