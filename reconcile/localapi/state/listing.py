"""Cursor pagination over records, newest first; pure (takes records, returns a page).

Order: by id, descending. Ids sort by creation time, so this is newest first. `starting_after` is an
id *position*: the page starts with the first record whose id sorts before it. It need not name a
record that still exists (deleted ones keep pagination working); an id of another kind is refused.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from reconcile.localapi.state.problems import Invalid

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 5000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool
    total_count: int | None


def paginate(
    records: Iterable[T],
    *,
    key: Callable[[T], str],
    limit: int | None,
    starting_after: str | None,
    prefix: str,
    include_total: bool,
    keep: Callable[[T], bool] = lambda _r: True,
) -> Page[T]:
    """One page of the records that pass `keep`, newest first."""
    size = DEFAULT_LIMIT if limit is None else limit
    if size < 1 or size > MAX_LIMIT:
        raise Invalid(f"limit: must be between 1 and {MAX_LIMIT}")
    if starting_after and not starting_after.startswith(prefix):
        raise Invalid(f"starting_after: must be an id starting with {prefix!r}")
    chosen = sorted((r for r in records if keep(r)), key=key, reverse=True)
    start = 0
    if starting_after:
        ascending: Sequence[Any] = [key(r) for r in reversed(chosen)]
        # records whose id sorts at or above starting_after come first; the page begins after them
        start = len(ascending) - bisect.bisect_left(ascending, starting_after)
    items = chosen[start : start + size]
    return Page(items, start + size < len(chosen), len(chosen) if include_total else None)
