"""`rlstate lock status` and `rlstate lock release --force`: who holds a stack's lock; free it.

Works with either backend (the lock file beside the manifest, or PostgreSQL). Makes no API
call. Release is for a holder that is alive but stuck: with PostgreSQL it ends the holder's
server session, so the holder stops before its next write.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from reconcile.commands.common import load
from reconcile.commands.connection import ConnectionSettings
from reconcile.commands.runlock import backend_choice, open_backend, stack_key
from reconcile.errors import ConfigError


def status(manifest: Path, conn: object, backend_url: str | None, json_out: bool) -> int:
    """Prints who holds the lock, or that it is free."""
    assert isinstance(conn, ConnectionSettings)
    loaded = load(manifest, need_env=False)
    key = stack_key(loaded, conn)
    backend = open_backend(backend_choice(loaded, backend_url), loaded.path)
    try:
        holder = backend.holder(key)
        place = backend.place(key)
    finally:
        backend.close()
    if json_out:
        data = {
            "stack": key.stack,
            "api": key.api,
            "backend": backend.name,
            "locked": holder is not None,
            "holder": holder.to_json() if holder else None,
        }
        sys.stdout.write(json.dumps(data) + "\n")
    elif holder is None:
        sys.stdout.write(f"stack {key.stack!r} is not locked ({place})\n")
    else:
        sys.stdout.write(f"stack {key.stack!r} is locked: {holder.describe()} ({place})\n")
    return 0


def release(manifest: Path, conn: object, backend_url: str | None, force: bool) -> int:
    """Frees the lock (with --force only) and says whose it was."""
    assert isinstance(conn, ConnectionSettings)
    if not force:
        raise ConfigError(
            "lock release frees a lock that another run may still hold: pass --force "
            "(see `rlstate lock status` for who holds it)"
        )
    loaded = load(manifest, need_env=False)
    key = stack_key(loaded, conn)
    backend = open_backend(backend_choice(loaded, backend_url), loaded.path)
    try:
        holder = backend.force_release(key)
    finally:
        backend.close()
    if holder is None:
        sys.stdout.write(f"stack {key.stack!r} was not locked; nothing to release\n")
    else:
        sys.stdout.write(f"released the lock of stack {key.stack!r} held by {holder.describe()}\n")
    return 0
