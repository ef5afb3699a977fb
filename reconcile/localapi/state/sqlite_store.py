"""Durable state of the local server: SQLite (WAL) for records and replayable replies; blob files.

It stores and loads; it decides nothing about statuses (backend.py does).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

KINDS = ("devboxes", "executions", "snapshots", "objects", "blueprints")
_SCHEMA = [
    *(f"CREATE TABLE IF NOT EXISTS {k} (id TEXT PRIMARY KEY, data TEXT NOT NULL)" for k in KINDS),
    "DROP TABLE IF EXISTS replies",  # keyed by (id, method, path): an id reused elsewhere replayed
    """CREATE TABLE IF NOT EXISTS request_replies (
        request_id TEXT PRIMARY KEY, method TEXT NOT NULL, path TEXT NOT NULL,
        digest TEXT NOT NULL, status INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
        created_ms INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS request_replies_created ON request_replies (created_ms)",
]


@dataclass(frozen=True)
class StoredReply:
    """An earlier answer to a POST, replayed when the same x-request-id comes again with the same
    method, path and body (`digest`, a hash of the request body)."""

    method: str
    path: str
    digest: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Store:
    """Records as JSON rows in SQLite plus blob files under the data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._owner = _own(self.data_dir)
        for sub in ("objects", "outputs"):
            (self.data_dir / sub).mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.data_dir / "state.sqlite3", isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._owner.close()  # lets go of the data dir

    # records

    def load(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(f"SELECT data FROM {_kind(kind)} ORDER BY id").fetchall()
        return [json.loads(r[0]) for r in rows]

    def put(self, kind: str, record: dict[str, Any]) -> None:
        self.put_many(kind, [record])

    def put_many(self, kind: str, records: Iterable[dict[str, Any]]) -> None:
        rows = [(r["id"], json.dumps(r, separators=(",", ":"))) for r in records]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO {_kind(kind)} (id, data) VALUES (?, ?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def delete(self, kind: str, record_id: str) -> None:
        with self._lock:
            self._db.execute(f"DELETE FROM {_kind(kind)} WHERE id = ?", (record_id,))

    def clear(self) -> None:
        """Drop every record, reply and blob file (the /_local/reset)."""
        with self._lock:
            for kind in KINDS:
                self._db.execute(f"DELETE FROM {kind}")
            self._db.execute("DELETE FROM request_replies")
        for sub in ("objects", "outputs"):
            shutil.rmtree(self.data_dir / sub, ignore_errors=True)
            (self.data_dir / sub).mkdir(exist_ok=True)

    # idempotent replies

    def get_reply(self, request_id: str, since_ms: int) -> StoredReply | None:
        with self._lock:
            row = self._db.execute(
                "SELECT method, path, digest, status, headers, body FROM request_replies"
                " WHERE request_id = ? AND created_ms >= ?",
                (request_id, since_ms),
            ).fetchone()
        if row is None:
            return None
        headers = [(str(k), str(v)) for k, v in json.loads(row[4])]
        return StoredReply(str(row[0]), str(row[1]), str(row[2]), int(row[3]), headers, row[5])

    def put_reply(self, request_id: str, reply: StoredReply, created_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO request_replies VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request_id,
                    reply.method,
                    reply.path,
                    reply.digest,
                    reply.status,
                    json.dumps(reply.headers),
                    reply.body,
                    created_ms,
                ),
            )

    def prune_replies(self, before_ms: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM request_replies WHERE created_ms < ?", (before_ms,))

    # blob files

    def object_path(self, object_id: str) -> Path:
        return self.data_dir / "objects" / _safe(object_id)

    def output_path(self, execution_id: str, stream: str) -> Path:
        return self.data_dir / "outputs" / f"{_safe(execution_id)}.{stream}"


def _own(data_dir: Path) -> IO[str]:
    """An exclusive hold on the data dir while the file stays open: a second server over the
    same data would keep records this one never sees (and make duplicates of them)."""
    handle = open(data_dir / "server.lock", "a+")  # noqa: SIM115 (held until close())
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OSError(
            f"the data folder {data_dir} is in use by another local server (`rlstate local "
            "serve`, or an rlstate command using the embedded backend); stop it, or reach it "
            "with --api-url"
        ) from None
    return handle


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    return kind


def _safe(record_id: str) -> str:
    if not record_id or not record_id.replace("_", "").isalnum():
        raise ValueError(f"unsafe record id {record_id!r}")
    return record_id
