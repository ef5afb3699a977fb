"""The metadata rlstate writes on snapshots beyond ownership: grace marks, the last run's result,
and the `keep` a snapshot was taken under. Pure: metadata maps in, maps and values out.

The Runloop API replaces a snapshot's whole metadata map on update, so every change here is a
merge of the map as listed: ownership keys and the user's own keys always survive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconcile.live.model import (
    KEY_DELETE_AFTER,
    KEY_KEEP,
    KEY_LAST_RUN,
    KEY_VERIFIED,
    format_time,
    parse_time,
)
from reconcile.retention import RetentionPolicy


def with_mark(metadata: Mapping[str, str], when: datetime) -> dict[str, str]:
    """The metadata with a grace mark: delete after `when`."""
    return {**metadata, KEY_DELETE_AFTER: format_time(when)}


def without_mark(metadata: Mapping[str, str]) -> dict[str, str]:
    """The metadata without its grace mark (what `undelete` writes)."""
    return {k: v for k, v in metadata.items() if k != KEY_DELETE_AFTER}


@dataclass(frozen=True)
class LastRun:
    """A series' last recorded `retain` run: when it ended (the API's time) and whether it
    succeeded for the series."""

    at: datetime
    ok: bool

    def value(self) -> str:
        return f"{format_time(self.at)} {'ok' if self.ok else 'failed'}"


def read_last_run(value: str | None) -> LastRun | None:
    """A `rlstate.last_run` value; None when absent or unreadable."""
    when_text, _, result = (value or "").partition(" ")
    when = parse_time(when_text)
    if when is None or result not in ("ok", "failed"):
        return None
    return LastRun(when, result == "ok")


def newest_last_run(metadatas: Iterable[Mapping[str, str]]) -> LastRun | None:
    """The newest stamp among a series' snapshots (older snapshots keep older stamps)."""
    runs = [r for m in metadatas if (r := read_last_run(m.get(KEY_LAST_RUN))) is not None]
    return max(runs, key=lambda r: r.at) if runs else None


def with_last_run(metadata: Mapping[str, str], run: LastRun) -> dict[str, str]:
    return {**metadata, KEY_LAST_RUN: run.value()}


def encode_keep(policy: RetentionPolicy) -> str:
    """A policy as a short metadata value: `{"daily":7,"last":3}` (within in seconds)."""
    data: dict[str, int] = {
        name: getattr(policy, name)
        for name in ("last", "hourly", "daily", "weekly", "monthly", "yearly")
        if getattr(policy, name)
    }
    if policy.within:
        data["within"] = int(policy.within.total_seconds())
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def decode_keep(value: str | None) -> RetentionPolicy | None:
    """The policy `encode_keep` wrote; None when absent or unreadable."""
    try:
        data = json.loads(value or "")
        within = data.pop("within", None)
        return RetentionPolicy(
            **data, within=timedelta(seconds=within) if within is not None else None
        )
    except (ValueError, TypeError, AttributeError):
        return None


def keep_of(metadata: Mapping[str, str]) -> RetentionPolicy | None:
    return decode_keep(metadata.get(KEY_KEEP))


def keep_stamp(policy: RetentionPolicy) -> dict[str, str]:
    return {KEY_KEEP: encode_keep(policy)}


def verified_at(metadata: Mapping[str, str]) -> datetime | None:
    """When a probe last verified that the snapshot restores (None: never)."""
    return parse_time(metadata.get(KEY_VERIFIED))
