"""Snapshot stamps: grace marks, last-run results and recorded policies merge, never replace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconcile.live.model import KEY_DELETE_AFTER, KEY_LAST_RUN, LiveSnapshot
from reconcile.retention import RetentionPolicy
from reconcile.stamps import (
    LastRun,
    decode_keep,
    encode_keep,
    newest_last_run,
    read_last_run,
    with_last_run,
    with_mark,
    without_mark,
)

WHEN = datetime(2031, 1, 28, 2, 0, tzinfo=UTC)
OWNED = {"rlstate.stack": "s", "team": "infra"}


def test_a_mark_round_trips_and_undelete_keeps_every_other_key() -> None:
    marked = with_mark(OWNED, WHEN)
    assert marked[KEY_DELETE_AFTER] == "2031-01-28T02:00:00Z"
    snap = LiveSnapshot("snp_1", 0, "dbx_1", marked)
    assert snap.delete_after == WHEN
    assert without_mark(marked) == OWNED
    bad = LiveSnapshot("snp_2", 0, "dbx_1", {KEY_DELETE_AFTER: "soon"})
    assert bad.delete_after is None  # an unreadable mark never makes a snapshot go sooner


def test_the_newest_last_run_wins() -> None:
    older = with_last_run(OWNED, LastRun(WHEN, False))
    newer = with_last_run(OWNED, LastRun(WHEN + timedelta(days=1), True))
    assert older[KEY_LAST_RUN] == "2031-01-28T02:00:00Z failed" and older["team"] == "infra"
    assert newest_last_run([OWNED, older, newer]) == LastRun(WHEN + timedelta(days=1), True)
    assert newest_last_run([OWNED]) is None
    assert read_last_run("2031-01-28T02:00:00Z maybe") is None


def test_a_policy_round_trips() -> None:
    policy = RetentionPolicy(last=3, daily=7, within=timedelta(hours=48))
    text = encode_keep(policy)
    assert text == '{"daily":7,"last":3,"within":172800}'
    assert decode_keep(text) == policy
    assert decode_keep("nonsense") is None and decode_keep('{"bogus":1}') is None
