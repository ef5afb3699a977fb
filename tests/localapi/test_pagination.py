"""Cursor pagination and id order, as pure functions (no server)."""

from __future__ import annotations

import pytest

from reconcile.localapi.state.ids import new_id
from reconcile.localapi.state.listing import paginate
from reconcile.localapi.state.problems import Invalid

IDS = [new_id("snp_", 1_700_000_000_000 + n) for n in range(12)]  # oldest first


def page_ids(limit: int | None, after: str | None) -> tuple[list[str], bool]:
    page = paginate(
        IDS, key=str, limit=limit, starting_after=after, prefix="snp_", include_total=True
    )
    assert page.total_count == len(IDS)
    return page.items, page.has_more


def test_ids_sort_by_time_and_have_the_documented_shape() -> None:
    assert sorted(IDS) == IDS
    assert all(len(i) == 25 and i[4:].isalnum() for i in IDS)
    same_ms = [new_id("dbx_", 5) for _ in range(50)]
    assert same_ms == sorted(same_ms)  # creation order within one millisecond


@pytest.mark.parametrize(
    "limit,after,expected,more",
    [
        (None, None, IDS[::-1], False),
        (5, None, IDS[:6:-1], True),
        (5, IDS[7], IDS[6:1:-1], True),
        (5, IDS[2], IDS[1::-1], False),
        (5, IDS[0], [], False),
        (5, "snp_zzzzzzzzzzzzzzzzzzzzz", IDS[:6:-1], True),  # a position, not necessarily a record
        (5000, None, IDS[::-1], False),
    ],
    ids=["default", "first-page", "middle", "last-page", "after-oldest", "unknown-id", "max"],
)
def test_pages_follow_starting_after(
    limit: int | None, after: str | None, expected: list[str], more: bool
) -> None:
    assert page_ids(limit, after) == (expected, more)


def test_walking_all_pages_sees_every_record_once() -> None:
    seen: list[str] = []
    after = None
    while True:
        items, more = page_ids(5, after)
        seen += items
        if not more:
            break
        after = items[-1]
    assert seen == IDS[::-1]


@pytest.mark.parametrize(
    "limit,after", [(0, None), (5001, None), (5, "dbx_0000")], ids=["zero", "too-big", "wrong-kind"]
)
def test_bad_paging_is_refused(limit: int, after: str | None) -> None:
    with pytest.raises(Invalid):
        page_ids(limit, after)
