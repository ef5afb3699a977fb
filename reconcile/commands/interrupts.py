"""SIGINT and SIGTERM at the command edge: an interrupted run ends cleanly and in bounded time.

Outside the executor either signal cancels the running coroutine, so its `finally` blocks and
context managers run (connections close, the stack lock is released by the caller), and the
command ends with `Interrupted`. While the executor runs, the first signal starts nothing new
and gives the operations in flight a grace period to finish; when it runs out, or at a second
signal, they are aborted (every operation is safe to abandon: the next run re-plans). It
decides nothing about what a run does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from reconcile.errors import ConfigError, Interrupted

if TYPE_CHECKING:
    from reconcile.apply.events import Event
    from reconcile.apply.executor import RunControl

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_ENV = "RLSTATE_INTERRUPT_GRACE"
DEFAULT_GRACE_SECONDS = 30.0


def grace_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds operations in flight may go on after the first interrupt (RLSTATE_INTERRUPT_GRACE,
    default 30)."""
    text = environ.get(GRACE_ENV, "").strip()
    if not text:
        return DEFAULT_GRACE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise ConfigError(f"{GRACE_ENV} is a number of seconds from 0 to 86400 (got {text!r})")
    return value


@contextmanager
def _loop_handlers(on_signal: Callable[[int], None]) -> Iterator[None]:
    """SIGINT/SIGTERM call `on_signal` on the running loop; the handlers they replaced come back
    after (asyncio alone would leave SIGTERM at its default, which kills without cleanup)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    saved = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal, int(sig))
    try:
        yield
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
            previous = saved[sig]
            if previous is not None:
                signal.signal(sig, previous)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, except that SIGINT or SIGTERM cancels `main` and, once it has
    unwound, raises Interrupted (never a traceback from the middle of the event loop)."""
    heard: list[int] = []
    box: list[T] = []
    guarded = _until_signal(main, heard, box)
    try:
        asyncio.run(guarded)
    finally:  # a signal before the loop ran them: close both (no "never awaited" warnings)
        guarded.close()
        main.close()
    if heard:
        raise Interrupted(heard[0])
    return box[0]


async def _until_signal(main: Coroutine[Any, Any, T], heard: list[int], box: list[T]) -> None:
    task = asyncio.current_task()
    assert task is not None

    def on_signal(signum: int) -> None:
        heard.append(signum)
        task.cancel()  # again at a second signal, should the first one's unwinding hang

    with _loop_handlers(on_signal):
        try:
            box.append(await main)
        except BaseException:
            if not heard:
                raise  # whatever the interrupted coroutine raised on its way out is moot


@contextmanager
def graceful(control: RunControl, sink: Callable[[Event], None], grace: float) -> Iterator[None]:
    """While the executor runs: first signal stops it and, after `grace` seconds, aborts what
    is still in flight; a second signal aborts at once."""
    from reconcile.apply.events import NoticeEvent

    loop = asyncio.get_running_loop()
    timers: list[asyncio.TimerHandle] = []

    def out_of_time() -> None:
        if not control.abort.is_set():
            why = f"operations in flight did not finish within {grace:g}s of the interrupt"
            sink(NoticeEvent(f"{why}: aborting them"))
            control.expire(f"aborted: {why}")

    def on_signal(_signum: int) -> None:
        if control.interrupt() == "stop":
            sink(
                NoticeEvent(
                    "interrupted: starting nothing new, letting operations in flight finish "
                    f"for up to {grace:g}s (interrupt again to abort them now)"
                )
            )
            timers.append(loop.call_later(grace, out_of_time))
        else:
            sink(NoticeEvent("interrupted again: aborting operations in flight"))

    with _loop_handlers(on_signal):
        try:
            yield
        finally:
            for timer in timers:
                timer.cancel()
