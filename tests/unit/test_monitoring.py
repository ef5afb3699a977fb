"""`check` states and the Prometheus text, parsed by the official parser."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from reconcile.monitoring import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    SeriesHealth,
    default_alert_after,
    prometheus_text,
    summary_line,
)

NOW = datetime(2031, 3, 1, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)


def health(name: str, age: timedelta | None, ok: bool | None = True) -> SeriesHealth:
    newest = None if age is None else NOW - age
    return SeriesHealth(name, newest, None, 7, 7000, NOW - H, ok, 36 * H)


def test_each_state_and_the_worst_wins() -> None:
    assert summary_line([health("a", 2 * H)], NOW)[0] == OK
    assert summary_line([health("a", 2 * H, ok=False)], NOW)[0] == WARNING
    code, line = summary_line([health("a", 2 * H), health("b", 40 * H)], NOW)
    assert code == CRITICAL
    assert line.startswith("CRITICAL - snapshot.b: newest complete 1d16h old (alert after 1d12h)")
    assert summary_line([health("a", None)], NOW)[0] == CRITICAL
    assert summary_line([], NOW)[0] == UNKNOWN
    assert default_alert_after(24 * H) == 36 * H and default_alert_after(None) is None


def test_a_series_that_verifies_warns_when_no_verification_is_recent() -> None:
    from dataclasses import replace

    week = 7 * 24 * H
    fresh = replace(health("a", 2 * H), verify_every=week, newest_verified=NOW - 3 * 24 * H)
    assert summary_line([fresh], NOW)[0] == OK
    stale = replace(fresh, newest_verified=NOW - 15 * 24 * H)
    code, line = summary_line([stale], NOW)
    assert code == WARNING and "last verified over 14d ago" in line
    never = replace(fresh, newest_verified=None)
    assert "no snapshot verified yet" in summary_line([never], NOW)[1]


def test_the_metrics_parse_with_the_prometheus_parser() -> None:
    text = prometheus_text("nightly", [health("a", 2 * H), health('we"ird', None, None)], NOW)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    age = {
        s.labels["series"]: s.value for s in families["rlstate_newest_complete_age_seconds"].samples
    }
    assert age["a"] == 7200 and math.isnan(age['we"ird'])
    kept = families["rlstate_snapshots_kept"].samples[0]
    assert kept.labels == {"stack": "nightly", "series": "a"} and kept.value == 7
    ran = families["rlstate_last_run_timestamp_seconds"].samples[0].value
    assert ran == (NOW - H).timestamp()
