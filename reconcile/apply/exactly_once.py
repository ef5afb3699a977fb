"""Makes one resource exactly once, even when the create call fails ambiguously.

Each create carries a fresh per-action token (metadata `rlstate.token`, also sent as the
x-request-id). A 429 means "not done": wait and try again. A dropped connection, timeout or
5xx may hide a success, so the resource is first looked up by its token, and only when it is
absent is the create sent again. It must not know which resource it makes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from reconcile.api import RetryPolicy
from reconcile.api.gate import earlier_attempts
from reconcile.errors import ApiRateLimitError, RetryableApiError

T = TypeVar("T")
Throttled = Callable[[ApiRateLimitError, float], None]


def new_token() -> str:
    """A fresh token for one create (unique per action and attempt series)."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class CreatePolicy:
    """How patient a create is: attempts in all, and the backoff between them."""

    max_attempts: int = 8
    backoff: RetryPolicy = field(default_factory=RetryPolicy)


async def create_exactly_once(
    create: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    *,
    policy: CreatePolicy | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_throttled: Throttled | None = None,
    on_ambiguous: Callable[[RetryableApiError], None] | None = None,
) -> T:
    """The created resource: `create()` once, or what `find()` finds after an ambiguous failure."""
    policy = policy or CreatePolicy()
    attempt = 0
    while True:
        attempt += 1
        mark = earlier_attempts.set(attempt - 1)  # a retried create keeps its place in line
        try:
            return await create()
        except ApiRateLimitError as error:
            if attempt >= policy.max_attempts:
                raise
            delay = policy.backoff.delay(attempt, error.retry_after)
            if on_throttled is not None:
                on_throttled(error, delay)
            await sleep(delay)
        except RetryableApiError as error:
            if on_ambiguous is not None:
                on_ambiguous(error)
            found = await find()
            if found is not None:
                return found
            if attempt >= policy.max_attempts:
                raise
            await sleep(policy.backoff.delay(attempt, None))
        finally:
            earlier_attempts.reset(mark)
