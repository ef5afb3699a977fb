"""The API's clock, as its answers tell it: "now" for every decision that compares with it.

Each answer's `Date` header (one-second resolution) is taken as the middle of its second and
carried forward on the monotonic clock; create times the API reports raise "now" if they are
newer. Only when the API has given no time at all does the host's clock serve, so a cron host
whose clock is off cannot skip or double a night, nor age a series wrongly. No decisions here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache

SKEW_LIMIT = timedelta(minutes=1)


def parse_http_date(value: str | None) -> datetime | None:
    """An RFC 9110 `Date` value as an aware UTC datetime; None when absent or unreadable."""
    return _parse(value) if value else None


@lru_cache(maxsize=4)  # every answer carries one; hundreds a second share the same value
def _parse(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class ApiClock:
    """The API's time: the newest `Date` it answered with, moved on by the monotonic clock."""

    def __init__(
        self,
        host: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._host, self._monotonic = host, monotonic
        self._anchor: tuple[datetime, float] | None = None
        self._floor: datetime | None = None

    def observe(self, date_header: str | None) -> None:
        """Records an answer's `Date` (ignored when missing or unreadable)."""
        when = parse_http_date(date_header)
        if when is not None:
            self._anchor = (when + timedelta(milliseconds=500), self._monotonic())

    def observe_created(self, created: datetime) -> None:
        """A create time the API reported: "now" is never earlier than it."""
        if self._floor is None or created > self._floor:
            self._floor = created

    @property
    def from_api(self) -> bool:
        """Whether the API has given a `Date` (else `now` is the host's, raised to the newest
        create time it reported)."""
        return self._anchor is not None

    def host_now(self) -> datetime:
        return datetime.fromtimestamp(self._host(), UTC)

    def now(self) -> datetime:
        """The API's now; the host's when the API has given no `Date` (never earlier than a
        create time it reported)."""
        if self._anchor is not None:
            when, at = self._anchor
            now = when + timedelta(seconds=self._monotonic() - at)
        else:
            now = self.host_now()
        return max(now, self._floor) if self._floor is not None else now

    def skew(self) -> timedelta | None:
        """API time minus host time, when the API gave a `Date`; None otherwise."""
        if self._anchor is None:
            return None
        when, at = self._anchor
        return when + timedelta(seconds=self._monotonic() - at) - self.host_now()

    def skew_warning(self, spell: Callable[[timedelta], str]) -> str | None:
        """One line when the host's clock and the API's differ by more than a minute; `spell`
        writes the difference as every message writes durations (retention.format_duration)."""
        skew = self.skew()
        if skew is None or abs(skew) <= SKEW_LIMIT:
            return None
        ahead = "behind" if skew > timedelta(0) else "ahead of"
        return (
            f"warning: this host's clock is {spell(abs(skew))} {ahead} the API's; "
            "rlstate decides by the API's time"
        )
