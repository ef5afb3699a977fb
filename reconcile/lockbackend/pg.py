"""PostgreSQL connections for the lock backend: open one, explain a failure, migrate the schema.

Imported only when a PostgreSQL backend is configured (it imports psycopg). Messages name the
setting the URL came from and show the URL redacted; libpq's own text is scrubbed of the
password too.
"""

from __future__ import annotations

from typing import Any, NoReturn

import psycopg
from psycopg import errors as pgerrors

from reconcile.errors import BackendError, ConfigError
from reconcile.lockbackend.migrations import LATEST, MIGRATIONS
from reconcile.lockbackend.settings import BackendChoice, _parts

Connection = Any  # psycopg.Connection[tuple[Any, ...]]; kept loose so callers need no psycopg
MIGRATION_LOCK = (0x726C7374, 1)  # a two-int advisory key ("rlst", 1): its own key space
# libpq settings: give up connecting after 5 s; notice a vanished server (keepalives), and
# fail a write to it after 15 s instead of hanging (tcp_user_timeout, ms).
CONNECT_OPTIONS = {
    "connect_timeout": "5",
    "application_name": "rlstate",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "15000",
}


def _scrub(text: str, choice: BackendChoice) -> str:
    parts = _parts(choice.url or "")
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    if parts is not None and parts.password:
        line = line.replace(parts.password, "***")
    return line


def explain(error: Exception, choice: BackendChoice, doing: str) -> BackendError:
    """One line for a database failure while `doing`, naming the setting (never a password)."""
    detail = _scrub(str(error), choice) or type(error).__name__
    if psycopg is not None and isinstance(error, pgerrors.InsufficientPrivilege):
        hint = " (the database role lacks a grant: see the README's 'Running rlstate as a team')"
    elif psycopg is not None and isinstance(
        error, pgerrors.InvalidPassword | pgerrors.InvalidAuthorizationSpecification
    ):
        hint = " (check the user and password)"
    else:
        hint = ""
    return BackendError(f"lock backend {choice.shown}: {doing}: {detail}{hint}")


def fail(error: Exception, choice: BackendChoice, doing: str) -> NoReturn:
    raise explain(error, choice, doing) from None


def connect(choice: BackendChoice) -> Connection:
    """An autocommit connection, or BackendError naming the setting."""
    assert choice.url is not None
    try:
        conninfo = psycopg.conninfo.make_conninfo(choice.url, **CONNECT_OPTIONS)
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.ProgrammingError as error:  # a URL libpq cannot parse
        raise ConfigError(
            f"{choice.shown}: not a usable PostgreSQL URL: {_scrub(str(error), choice)}"
        ) from None
    except psycopg.Error as error:
        fail(error, choice, "cannot connect")


def schema_version(conn: Connection) -> int:
    """The migration the database is at (0: no rlstate tables yet)."""
    row = conn.execute("SELECT to_regclass('rlstate_schema')::text").fetchone()
    if row is None or row[0] is None:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) FROM rlstate_schema").fetchone()
    return int(found[0]) if found else 0


def ensure_schema(conn: Connection, choice: BackendChoice) -> None:
    """Creates or upgrades the tables (one migrator at a time); a current schema needs no DDL,
    so day-to-day roles need no CREATE grant."""
    try:
        current = schema_version(conn)
        if current > LATEST:
            raise BackendError(
                f"lock backend {choice.shown}: its tables are at version {current}, newer than "
                f"this rlstate knows ({LATEST}); upgrade rlstate"
            )
        if current == LATEST:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", MIGRATION_LOCK)
            conn.execute("CREATE TABLE IF NOT EXISTS rlstate_schema (version integer NOT NULL)")
            current = schema_version(conn)
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO rlstate_schema (version) VALUES (%s)", (version,))
    except psycopg.Error as error:
        fail(error, choice, "cannot create or upgrade its tables")
