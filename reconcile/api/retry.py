"""When to try an API call again and how long to wait first; decisions only — no I/O, no sleeping.

Retried: connection failures and client timeouts, and the answers 408 (except on a long-poll,
where 408 just means "not yet"), 429 and 5xx. A server's `x-should-retry` header overrides the
status; `retry-after-ms` / `retry-after` set the wait (capped); otherwise exponential backoff
with jitter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import httpx

RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one logical call is tried (attempts include the first)."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 10.0
    max_retry_after: float = 60.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def backoff(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before retry number n (1 = first): base × 2^(n-1), capped, jittered."""
        exponent = min(max(retry_number - 1, 0), 60)
        ceiling = min(self.base_delay * 2.0**exponent, self.max_delay)
        return ceiling * (1.0 - self.jitter * rand())

    def delay(
        self,
        retry_number: int,
        retry_after: float | None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """The server's requested wait when it gave one (capped), else the backoff."""
        if retry_after is not None and retry_after > 0:
            return min(retry_after, self.max_retry_after)
        return self.backoff(retry_number, rand)


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class RetryEvent:
    """One failed attempt that will be retried; str() is the line a progress view shows."""

    method: str
    route: str
    path: str
    attempt: int
    max_attempts: int
    delay: float
    reason: str
    status: int | None
    request_id: str

    def __str__(self) -> str:
        return f"{self.reason}, retrying in {self.delay:.1f}s"


def should_retry_response(response: httpx.Response, *, long_poll: bool = False) -> bool:
    """Whether an error answer is worth another attempt."""
    status = response.status_code
    if long_poll and status == 408:
        return False
    verdict = str(response.headers.get("x-should-retry", "")).strip().lower()
    if verdict in ("true", "false"):
        return verdict == "true"
    return status in RETRYABLE_STATUSES or status >= 500


def should_retry_exception(exc: httpx.HTTPError, *, long_poll: bool = False) -> bool:
    """Whether a transport failure is worth another attempt (the long-poll loop handles its own)."""
    if long_poll or not isinstance(exc, httpx.TransportError):
        return False
    return not isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError)


def describe_response(response: httpx.Response) -> str:
    """A short reason for a retried answer, e.g. "throttled (429)"."""
    status = response.status_code
    if status == 429:
        return "throttled (429)"
    if status == 408:
        return "timed out (408)"
    if status >= 500:
        return f"server error ({status})"
    return f"failed ({status})"


def describe_exception(exc: httpx.HTTPError) -> str:
    """A short reason for a retried transport failure, e.g. "connection failed (ConnectError)"."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({kind})"
    return f"connection failed ({kind})"
