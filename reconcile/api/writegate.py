"""Asks the run's stack lock, before each write request, whether it is still held.

A command that holds a lock installs its check with `guarded(check)`; the HTTP core calls
`before_write(method)` before sending anything but a read. The check raises (LockLostError)
when the lock is gone, so the request is never sent. It runs on the event loop, so an engine
keeps it cheap (the PostgreSQL one asks its server at most once a second). It must not decide
anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

READS = frozenset({"GET", "HEAD", "OPTIONS"})
_check: ContextVar[Callable[[], None] | None] = ContextVar("rlstate_write_gate", default=None)


def before_write(method: str) -> None:
    """Runs the installed check when `method` writes (raises when the lock is gone)."""
    check = _check.get()
    if check is not None and method.upper() not in READS:
        check()


@contextmanager
def guarded(check: Callable[[], None]) -> Iterator[None]:
    """Installs `check` for the block (and the event loops started in it)."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)
