"""The manifest's scalar spellings: durations, percentages, names, `${env:NAME}` templates.

Plain Python (no pydantic), so that checking a manifest imports no model machinery; schema.py
builds its typed fields from these and re-exports them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

DURATION_RE = re.compile(r"^([0-9]+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
ENV_REF_RE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
NAME_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$"
STACK_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
PERCENT_RE = re.compile(r"^([0-9]{1,3})%$")

ResourceSize = Literal["X_SMALL", "SMALL", "MEDIUM", "LARGE", "X_LARGE", "XX_LARGE"]
Architecture = Literal["x86_64", "arm64"]
ContentType = Literal["unspecified", "text", "binary", "gzip", "tar", "tgz"]


def parse_duration(value: object) -> timedelta:
    """`90s`, `30m`, `1h`, `30d`, `2w` → timedelta; anything else is a ValueError."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"a duration needs a unit, e.g. {value}s (units: s, m, h, d, w)")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like 30m, 1h, 7d (got {type(value).__name__})")
    match = DURATION_RE.match(value.strip())
    if match is None:
        raise ValueError(f"bad duration {value!r}: use <int><unit> with unit s, m, h, d or w")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def duration_spelling(value: timedelta) -> str:
    """How a duration is written back into manifest data: the shortest `<int><unit>` spelling
    (the inverse of parse_duration). Messages use retention.format_duration instead."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_percent(value: object) -> float:
    """`50%` → 0.5 (0% to 100%); anything else is a ValueError."""
    if isinstance(value, float) and 0 <= value <= 1:
        return value
    match = PERCENT_RE.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > 100:
        raise ValueError(f"expected a percentage from 0% to 100%, e.g. 50% (got {value!r})")
    return int(match.group(1)) / 100


def percent_spelling(value: float) -> str:
    """`50%` for 0.5 (the inverse of parse_percent)."""
    return f"{round(value * 100)}%"


def env_references(value: str) -> list[str]:
    """Names of the environment variables a `${env:NAME}` template refers to."""
    return ENV_REF_RE.findall(value)


def resolve_env_template(value: str, environ: dict[str, str] | Any) -> str:
    """Replace every `${env:NAME}` in value by its value in environ (KeyError if unset)."""
    return ENV_REF_RE.sub(lambda m: str(environ[m.group(1)]), value)
