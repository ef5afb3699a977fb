"""Process-wide SIGINT/SIGTERM handlers that never raise: they record the signal and wake
whoever listens; code raises Interrupted only where it checks (or in a block it marks as
interruptible), never in the middle of someone else's code such as building an event loop.

The console entry point installs them first thing. Imports nothing heavy (rlstate's start-up),
and decides nothing about what a run does.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager, suppress

# Until install() runs, Python's own handlers are in place: this module imports only what
# start-up has loaded (not even `typing`, hence this TYPE_CHECKING).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

    Listener = Callable[[int], None]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Record:
    """Every signal heard, how many of them were acted on, and who is listening."""

    def __init__(self) -> None:
        self.heard: list[int] = []
        self.taken = 0
        self.listeners: list[Listener] = []
        self.raising = 0  # depth of interruptible() blocks


_record = _Record()


def _handle(signum: int, _frame: FrameType | None) -> None:
    """The handler: record, tell the listeners (whose errors are dropped: a handler that
    raised would land at an arbitrary point), and raise only inside interruptible()."""
    _record.heard.append(signum)
    for listener in tuple(_record.listeners):
        with suppress(Exception):  # e.g. a loop that has closed meanwhile
            listener(signum)
    if _record.raising:
        check()


def install() -> None:
    """Make SIGINT and SIGTERM record instead of raise, for the rest of the process."""
    for sig in SIGNALS:
        signal.signal(sig, _handle)


def installed() -> bool:
    return all(signal.getsignal(sig) is _handle for sig in SIGNALS)


def take() -> list[int]:
    """The signals heard and not yet acted on, now marked as acted on."""
    taken: list[int] = []
    while _record.taken < len(_record.heard):  # one at a time: a handler may append meanwhile
        taken.append(_record.heard[_record.taken])
        _record.taken += 1
    return taken


def pending() -> int | None:
    """The first signal heard and not yet acted on."""
    if _record.taken < len(_record.heard):
        return _record.heard[_record.taken]
    return None


def check() -> None:
    """Raise Interrupted (for the first of them) when signals came that nobody acted on."""
    signals = take()
    if signals:
        from reconcile.errors import Interrupted

        raise Interrupted(signals[0])


@contextmanager
def listening(listener: Listener, *, replay: bool = False) -> Iterator[None]:
    """`listener(signum)` is called from the handler for each signal while the block runs (it
    must only set flags or schedule work); with `replay`, first for those not yet acted on.

    Where the handlers are not installed (rlstate used as a library), they are for the block."""
    with _handlers():
        _record.listeners.append(listener)
        try:
            seen = _record.taken if replay else len(_record.heard)
            while seen < len(_record.heard):  # a signal now is told twice: listeners allow it
                listener(_record.heard[seen])
                seen += 1
            yield
        finally:
            _record.listeners.remove(listener)


@contextmanager
def _handlers() -> Iterator[None]:
    """Ours for the block, in the main thread, unless they already are (then: nothing)."""
    import threading

    if installed() or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    install()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def interruptible() -> Iterator[None]:
    """A signal raises Interrupted inside the block (for blocking waits of our own: a lock,
    the terminal), as well as at its start for one that came before."""
    _record.raising += 1
    try:
        check()
        yield
    finally:
        _record.raising -= 1


def finish(code: int) -> int:
    """The exit status: 128+N (after the one line) for a signal nobody acted on yet, else
    `code`. Signals that come later are ignored: the run is over."""
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signum = pending()
    if signum is None:
        return code
    take()
    import sys

    from reconcile.errors import Interrupted

    sys.stderr.write(f"{Interrupted(signum)}\n")
    return 128 + signum
