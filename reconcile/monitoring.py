"""Health of snapshot series for monitors: Nagios states for `check`, Prometheus text metrics.

Pure: the series' facts and `now` (the API's time) in, a state, a line or metric text out. It
reads no clock, no API and writes no file (the command writes the metrics atomically).

States, as `sanoid --monitor-snapshots` reports them: OK (0) when every series' newest complete
snapshot is younger than its `alert_after` and its last recorded run succeeded; WARNING (1)
when a last run failed but the series is still fresh, or a series that verifies its restores has
none verified within twice its `verify.every`; CRITICAL (2) when a series is stale or
has no complete snapshot; UNKNOWN (3) when the state cannot be read (the command's case).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconcile.retention import format_duration

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


@dataclass(frozen=True)
class SeriesHealth:
    """What a monitor needs of one series (times are the API's)."""

    series: str
    newest_complete: datetime | None
    newest_verified: datetime | None
    kept: int
    bytes_kept: int | None
    last_run_at: datetime | None
    last_run_ok: bool | None
    alert_after: timedelta | None
    verify_every: timedelta | None = None  # the series' verify.every, when it verifies


def default_alert_after(every: timedelta | None) -> timedelta | None:
    """Without `alert_after` or `--max-age`: one and a half `every` (36h for a nightly)."""
    return every * 3 / 2 if every else None


def _age(now: datetime, when: datetime | None) -> str:
    if when is None:
        return "none"
    return format_duration(now - when) if now > when else "0s"


def assess(health: SeriesHealth, now: datetime) -> tuple[int, str]:
    """The series' state and a short phrase saying why."""
    name = f"snapshot.{health.series}"
    if health.newest_complete is None:
        return CRITICAL, f"{name}: no complete snapshot"
    age = now - health.newest_complete
    text = f"{name}: newest complete {_age(now, health.newest_complete)} old"
    if health.newest_verified is not None:
        text += f", verified {_age(now, health.newest_verified)} ago"
    if health.alert_after is not None and age > health.alert_after:
        return CRITICAL, f"{text} (alert after {format_duration(health.alert_after)})"
    if health.last_run_ok is False:
        return WARNING, f"{text}; its last run failed"
    if health.verify_every is not None:
        limit = health.verify_every * 2
        if health.newest_verified is None:
            return WARNING, f"{text}; no snapshot verified yet"
        if now - health.newest_verified > limit:
            return WARNING, f"{text}; last verified over {format_duration(limit)} ago"
    return OK, text


def summary_line(healths: Sequence[SeriesHealth], now: datetime) -> tuple[int, str]:
    """The worst state over all series and the one line a monitor shows, worst series first."""
    if not healths:
        return UNKNOWN, "UNKNOWN - the manifest has no snapshot series"
    states = sorted((assess(h, now) for h in healths), key=lambda s: -s[0])
    worst = states[0][0]
    body = "; ".join(text for _, text in states)
    return worst, f"{STATE_NAMES[worst]} - {body}"


def _seconds(now: datetime, when: datetime | None) -> float:
    return (now - when).total_seconds() if when is not None else math.nan


def _metric(lines: list[str], name: str, help_text: str, kind: str = "gauge") -> None:
    lines.append(f"# HELP rlstate_{name} {help_text}")
    lines.append(f"# TYPE rlstate_{name} {kind}")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def prometheus_text(stack: str, healths: Sequence[SeriesHealth], now: datetime) -> str:
    """Metrics in the text exposition format for node_exporter's textfile collector."""
    metrics: list[tuple[str, str, object]] = [
        ("newest_complete_age_seconds", "Age of the newest complete snapshot.", "complete"),
        ("newest_verified_age_seconds", "Age of the newest verified snapshot.", "verified"),
        ("snapshots_kept", "Complete snapshots the series keeps.", "kept"),
        ("bytes_kept", "Bytes the series' snapshots hold (NaN when unknown).", "bytes"),
        ("last_run_success", "1 when the series' last recorded run succeeded.", "ok"),
        ("last_run_timestamp_seconds", "When the series' last recorded run ended.", "at"),
    ]
    lines: list[str] = []
    for name, help_text, which in metrics:
        _metric(lines, name, help_text)
        for h in healths:
            value = _value(h, which, now)
            labels = f'stack="{_label(stack)}",series="{_label(h.series)}"'
            lines.append(f"rlstate_{name}{{{labels}}} {_number(value)}")
    return "\n".join(lines) + "\n"


def _value(h: SeriesHealth, which: object, now: datetime) -> float:
    if which == "complete":
        return _seconds(now, h.newest_complete)
    if which == "verified":
        return _seconds(now, h.newest_verified)
    if which == "kept":
        return float(h.kept)
    if which == "bytes":
        return math.nan if h.bytes_kept is None else float(h.bytes_kept)
    if which == "ok":
        return math.nan if h.last_run_ok is None else float(h.last_run_ok)
    return h.last_run_at.timestamp() if h.last_run_at is not None else math.nan
