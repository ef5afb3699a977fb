"""`undelete` picks exactly the marked snapshots it is asked for, or says why not in one line."""

from __future__ import annotations

import pytest

from reconcile.commands.undelete import _chosen
from reconcile.errors import UserError
from reconcile.live.model import KEY_DELETE_AFTER, LiveSnapshot

MARKED = {
    i: LiveSnapshot(i, n, "dbx", {KEY_DELETE_AFTER: "2031-01-01T00:00:00Z"})
    for n, i in enumerate(("snp_b", "snp_a"))
}


def test_all_takes_every_marked_snapshot_oldest_first() -> None:
    assert [s.id for s in _chosen(MARKED, [], True)] == ["snp_b", "snp_a"]


def test_ids_are_taken_once_each() -> None:
    assert [s.id for s in _chosen(MARKED, ["snp_a", "snp_a"], False)] == ["snp_a"]


@pytest.mark.parametrize(
    ("ids", "every", "words"),
    [
        ([], False, "name snapshot ids or pass --all"),
        (["snp_a"], True, "name snapshot ids or pass --all"),
        (["snp_a", "snp_zz"], False, "not scheduled for deletion in this series: snp_zz"),
    ],
)
def test_mistakes_are_one_line(ids: list[str], every: bool, words: str) -> None:
    with pytest.raises(UserError, match=words):
        _chosen(MARKED, ids, every)
