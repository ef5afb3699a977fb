"""The API's clock: `Date` answers carried forward, create times as a floor, host as fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconcile.api.servertime import ApiClock, parse_http_date
from reconcile.retention import format_duration

HOST = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_dates_parse_and_bad_ones_are_ignored() -> None:
    when = parse_http_date("Sun, 02 Feb 2031 02:00:00 GMT")
    assert when == datetime(2031, 2, 2, 2, 0, tzinfo=UTC)
    assert parse_http_date(None) is None and parse_http_date("yesterday") is None


def test_now_follows_the_api_not_the_host() -> None:
    ticks = Ticks()
    clock = ApiClock(host=lambda: HOST, monotonic=ticks)
    assert not clock.from_api and clock.now() == datetime(2030, 1, 1, tzinfo=UTC)
    clock.observe("Sun, 02 Feb 2031 02:00:00 GMT")
    ticks.value += 30
    assert clock.from_api
    assert clock.now() == datetime(2031, 2, 2, 2, 0, 30, 500000, tzinfo=UTC)
    clock.observe("garbage")  # an unreadable Date keeps the last good one
    assert clock.now().year == 2031


def test_a_create_time_is_a_floor() -> None:
    clock = ApiClock(host=lambda: HOST, monotonic=Ticks())
    later = datetime(2030, 6, 1, tzinfo=UTC)
    clock.observe_created(later)
    assert clock.now() == later and not clock.from_api


def test_skew_warns_beyond_a_minute_only() -> None:
    clock = ApiClock(host=lambda: HOST, monotonic=Ticks())
    assert clock.skew_warning(format_duration) is None
    clock.observe("Tue, 01 Jan 2030 00:00:30 GMT")
    assert clock.skew_warning(format_duration) is None
    clock.observe("Tue, 01 Jan 2030 00:05:00 GMT")
    assert clock.skew() == timedelta(minutes=5, milliseconds=500)
    warning = clock.skew_warning(format_duration)
    assert warning is not None and "clock is 5m behind the API's" in warning
