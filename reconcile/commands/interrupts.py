"""SIGINT and SIGTERM at the command edge: an interrupted run ends cleanly and in bounded time.

Outside the executor either signal cancels the running coroutine, so its `finally` blocks and
context managers run (connections close, the stack lock is released by the caller), and the
command ends with `Interrupted`. While the executor runs, the first signal starts nothing new
and gives the operations in flight a grace period to finish; when it runs out, or at a second
signal, they are aborted (every operation is safe to abandon: the next run re-plans). The
signal handlers themselves only record and wake the loop (reconcile.signals); nothing here is
interrupted by an exception from a handler. It decides nothing about what a run does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from reconcile import signals
from reconcile.errors import ConfigError

if TYPE_CHECKING:
    from reconcile.apply.events import Event
    from reconcile.apply.executor import RunControl

T = TypeVar("T")
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
def _on_loop(on_signal: Callable[[int], None]) -> Iterator[None]:
    """While the block runs, each signal (and one heard before it) runs `on_signal` on the
    running loop, soon: the handler only queues the call and wakes the loop. The loop is also
    woken when another thread took the signal (set_wakeup_fd, as asyncio's own handlers do)."""
    loop = asyncio.get_running_loop()

    def wake(signum: int) -> None:
        loop.call_soon_threadsafe(on_signal, signum)  # a closed loop raises: the handler drops it

    with _wakeup_fd(loop), signals.listening(wake, replay=True):
        yield


@contextmanager
def _wakeup_fd(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers, and so their wake-up, belong to the main thread
        return
    reader, writer = socket.socketpair()
    for sock in (reader, writer):
        sock.setblocking(False)
    loop.add_reader(reader.fileno(), _drain, reader)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        loop.remove_reader(reader.fileno())
        reader.close()
        writer.close()


def _drain(reader: socket.socket) -> None:
    with suppress(OSError):
        reader.recv(4096)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, except that SIGINT or SIGTERM cancels `main` and, once it has
    unwound, raises Interrupted (never a traceback from the middle of the event loop).

    The signal handlers only record (reconcile.signals): a signal while the loop is built or
    torn down is raised here, after `asyncio.run` has returned."""
    box: list[T] = []
    guarded = _until_signal(main, box)
    try:
        signals.check()  # one that came before: start nothing
        asyncio.run(guarded)
    finally:  # a signal before the loop ran them: close both (no "never awaited" warnings)
        guarded.close()
        main.close()
    signals.check()
    return box[0]


async def _until_signal(main: Coroutine[Any, Any, T], box: list[T]) -> None:
    task = asyncio.current_task()
    assert task is not None

    def on_signal(_signum: int) -> None:
        task.cancel()  # again at a second signal, should the first one's unwinding hang

    with _on_loop(on_signal):
        try:
            box.append(await main)
        except BaseException:
            if signals.pending() is None:
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

    def on_signals(_signum: int) -> None:
        for signum in signals.take():  # acted on here: the command's edge does not repeat them
            on_signal(signum)

    with _on_loop(on_signals):
        try:
            yield
        finally:
            for timer in timers:
                timer.cancel()
