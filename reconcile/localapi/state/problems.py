"""Errors the backend raises for a request it refuses; web/app.py maps each to an HTTP status."""

from __future__ import annotations


class Problem(Exception):
    """A refused request; `status` is the HTTP status the app answers with."""

    status = 400
    retryable: bool | None = None  # sent as x-should-retry when not None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(Problem):
    """The request itself is wrong (a field, a value); the message names the field."""

    status = 400


class NotFound(Problem):
    status = 404


class WrongState(Problem):
    """The resource's state does not allow this (the spec says 400 here, e.g. suspend/resume)."""

    status = 400


class Conflict(Problem):
    """A state conflict. Transient ones (a snapshot still running) may be retried; permanent ones
    (completing an object twice) carry x-should-retry: false so the SDK gives up at once."""

    status = 409

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.retryable = False if permanent else None


class TimedOut(Problem):
    """A long-poll hold ran out (408; the SDK re-polls at once)."""

    status = 408


class Failed(Problem):
    """An operation ran and failed for a reason of its own (e.g. a synchronous snapshot)."""

    status = 500
    retryable = False
