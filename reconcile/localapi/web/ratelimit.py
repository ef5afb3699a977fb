"""Token buckets for the local server's request-rate limit (one per API token), as the cloud's
account limit behaves: a full bucket lets a burst through, then requests pass at `rate` per
second and the rest are told how long to wait. Pure bookkeeping with an injected clock; no
HTTP here (faults.py answers the 429)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` tokens per second, holding at most `burst`; a refused request takes no token."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one will be there."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class RateLimits:
    """One bucket per caller key (the bearer token); a changed rate or burst starts them afresh."""

    clock: Callable[[], float]
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    shape: tuple[float, float] = (0.0, 0.0)

    def wait_for(self, key: str, rate: float, burst: float | None) -> float:
        """0 when `key` may send now, else the seconds it must wait (rate > 0 requests/s)."""
        size = max(1.0, burst if burst is not None else rate)
        if self.shape != (rate, size):
            self.shape = (rate, size)
            self.buckets.clear()
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(rate, size, size, now)
        return bucket.take(now)


def retry_after_headers(wait: float) -> dict[str, str]:
    """`retry-after` in whole seconds (as HTTP says; at least 1) and the exact `retry-after-ms`
    (what Runloop's SDKs read first)."""
    return {
        "retry-after": str(max(1, math.ceil(wait))),
        "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
    }
