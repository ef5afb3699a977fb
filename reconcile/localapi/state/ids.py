"""Resource ids: prefix + 21 base62 chars that sort by creation time; makes ids, stores nothing."""

from __future__ import annotations

import itertools
import secrets
import threading

ALPHABET = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order: sorts as text
)
PREFIXES = {
    "devbox": "dbx_",
    "snapshot": "snp_",
    "object": "obj_",
    "blueprint": "bpt_",
    "execution": "exn_",
}
_TIME_CHARS = 8  # 62**8 ms reaches far beyond year 8000
_SEQ_CHARS = 4
_RANDOM_CHARS = 21 - _TIME_CHARS - _SEQ_CHARS
_counter = itertools.count()
_lock = threading.Lock()


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str, time_ms: int) -> str:
    """A fresh id whose text order follows `time_ms` (and creation order within one millisecond)."""
    with _lock:
        seq = next(_counter) % (62**_SEQ_CHARS)
    rand = "".join(secrets.choice(ALPHABET) for _ in range(_RANDOM_CHARS))
    return f"{prefix}{_base62(max(time_ms, 0), _TIME_CHARS)}{_base62(seq, _SEQ_CHARS)}{rand}"


def has_prefix(kind: str, value: str) -> bool:
    return value.startswith(PREFIXES[kind])
