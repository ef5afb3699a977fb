"""`rlstate history`: the stack's apply, destroy and retain runs, newest first, from the
PostgreSQL lock backend (who ran what, when, how it ended, and what each action did).

Makes no API call. Without a PostgreSQL backend there is no history: one line says how to
set one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.commands.common import load
from reconcile.commands.connection import ConnectionSettings
from reconcile.commands.runlock import backend_choice, open_backend, stack_key
from reconcile.errors import ConfigError

if TYPE_CHECKING:
    from reconcile.lockbackend.history import RunRow

_COUNT_ORDER = ("done", "taken", "pruned", "kept", "left", "failed", "skipped")


def run(manifest: Path, conn: object, backend_url: str | None, limit: int, json_out: bool) -> int:
    assert isinstance(conn, ConnectionSettings)
    loaded = load(manifest, need_env=False)
    key = stack_key(loaded, conn)
    choice = backend_choice(loaded, backend_url)
    if choice.url is None:
        raise ConfigError(
            "history is kept only by a PostgreSQL lock backend: set `backend: {postgres: "
            "{url: ...}}` in the manifest, RLSTATE_BACKEND_URL or --backend-url"
        )
    from reconcile.lockbackend.history import PgHistory
    from reconcile.lockbackend.postgres import PgBackend

    backend = open_backend(choice, loaded.path)
    assert isinstance(backend, PgBackend)
    try:
        rows = PgHistory(backend).runs(key, limit)
    finally:
        backend.close()
    if json_out:
        sys.stdout.write("".join(json.dumps(to_json(row)) + "\n" for row in rows))
    elif not rows:
        sys.stdout.write(f"no runs of stack {key.stack!r} on {key.api} recorded yet\n")
    else:
        sys.stdout.write("".join(f"{line}\n" for row in rows for line in text_lines(row)))
    return 0


def _time(row_time: Any) -> str:
    return str(row_time.astimezone().replace(microsecond=0).isoformat()) if row_time else ""


def to_json(row: RunRow) -> dict[str, Any]:
    """One run as a JSON object (one per line with --json)."""
    return {
        "id": row.id,
        "command": row.command,
        "user": row.user,
        "host": row.host,
        "pid": row.pid,
        "started_at": _time(row.started_at),
        "ended_at": _time(row.ended_at) or None,
        "state": row.state,
        "exit_status": row.exit_status,
        "plan_digest": row.plan_digest,
        "counts": row.counts,
        "error": row.error,
        "summary": row.summary,
        "actions": [a.to_json() for a in row.actions],
    }


def _outcome(row: RunRow) -> str:
    if row.state != "finished":
        return row.state.upper()
    return f"exit {row.exit_status}"


def text_lines(row: RunRow) -> list[str]:
    """A run's header line, its counts, its error, then one line per action result."""
    took = ""
    if row.ended_at is not None:
        took = f" ({(row.ended_at - row.started_at).total_seconds():.1f}s)"
    counts = ", ".join(f"{row.counts[k]} {k}" for k in _COUNT_ORDER if k in row.counts)
    lines = [
        f"#{row.id} {_time(row.started_at)} {row.command} by {row.user}@{row.host} "
        f"(pid {row.pid}): {_outcome(row)}{took}" + (f"; {counts}" if counts else "")
    ]
    if row.error:
        lines.append(f"    error: {row.error}")
    for action in row.actions:
        what = f" {action.resource_id}" if action.resource_id else ""
        lines.append(f"    {action.state:<7} {action.kind} {action.address}{what}")
    return lines
