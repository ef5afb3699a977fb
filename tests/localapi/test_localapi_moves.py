"""Snapshot, object and blueprint moves go through the backend, which keeps to records.py's tables
and writes every accepted move through to the store (a real SQLite store, no server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconcile.localapi.config import LocalConfig
from reconcile.localapi.services import Services
from reconcile.localapi.state.backend import Backend
from reconcile.localapi.state.records import (
    BLUEPRINT_STATE_TRANSITIONS,
    BLUEPRINT_TRANSITIONS,
    OBJECT_TRANSITIONS,
    SNAPSHOT_TRANSITIONS,
    Blueprint,
    Snapshot,
    StoredObject,
)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    svc = Services.build(LocalConfig(data_dir=tmp_path / "data", port=0), "token")
    yield svc.backend
    svc.store.close()


def _snapshot(status: str) -> Snapshot:
    return Snapshot(id="snp_1", source_devbox_id="dbx_1", create_time_ms=1, status=status)


def _object(state: str) -> StoredObject:
    return StoredObject(id="obj_1", name="o", content_type="text", create_time_ms=1, state=state)


def _blueprint(status: str, state: str = "created") -> Blueprint:
    return Blueprint(
        id="bpt_1", name="b", create_time_ms=1, parameters={}, status=status, state=state
    )


# (table, build a record in a status, move it, read its status, the store's kind)
CASES: dict[str, tuple[dict[str, frozenset[str]], Callable[[str], Any], str, str, str]] = {
    "snapshot": (SNAPSHOT_TRANSITIONS, _snapshot, "move_snapshot", "status", "snapshots"),
    "object": (OBJECT_TRANSITIONS, _object, "move_object", "state", "objects"),
    "blueprint": (BLUEPRINT_TRANSITIONS, _blueprint, "move_blueprint", "status", "blueprints"),
    "blueprint state": (
        BLUEPRINT_STATE_TRANSITIONS,
        lambda s: _blueprint("build_complete", s),
        "move_blueprint_state",
        "state",
        "blueprints",
    ),
}
PAIRS = [
    (name, old, new)
    for name, (table, *_rest) in CASES.items()
    for old in table
    for new in table
    if old != new
]


@pytest.mark.parametrize("name,old,new", PAIRS, ids=lambda v: str(v))
def test_a_move_happens_and_is_stored_exactly_when_its_table_declares_it(
    backend: Backend, name: str, old: str, new: str
) -> None:
    table, make, method, field, kind = CASES[name]
    record = make(old)
    backend.save(record)
    moved = getattr(backend, method)(record, new)
    assert moved == (new in table[old])
    expected = new if moved else old
    assert getattr(record, field) == expected
    assert [row[field] for row in backend.store.load(kind)] == [expected]


def test_the_tables_refuse_moves_back(backend: Backend) -> None:
    obj = _object("READ_ONLY")
    assert not backend.move_object(obj, "UPLOADING")
    snp = _snapshot("deleted")
    assert not backend.move_snapshot(snp, "complete")
    bpt = _blueprint("failed", "deleted")
    assert not backend.move_blueprint(bpt, "building")
    assert not backend.move_blueprint_state(bpt, "created")
    assert (obj.state, snp.status, bpt.status, bpt.state) == (
        "READ_ONLY",
        "deleted",
        "failed",
        "deleted",
    )


def test_a_capture_outcome_records_its_error_message(backend: Backend) -> None:
    failed, done = _snapshot("in_progress"), _snapshot("in_progress")
    done.id = "snp_2"
    assert backend.move_snapshot(failed, "error", error_message="disk full")
    assert backend.move_snapshot(done, "complete")
    assert (failed.error_message, done.error_message) == ("disk full", None)
    assert backend.move_snapshot(failed, "deleted")
    assert failed.error_message == "disk full"  # deleting keeps why it failed
