"""Serves the local API with hypercorn: HTTP/1.1 and HTTP/2 without TLS (prior knowledge or
`Upgrade: h2c`) on one port, blocking (`serve`, for `rlstate local serve`) or on a thread of its own
(`start_in_thread`, for the embedded backend and tests). No resource logic."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from reconcile.localapi.config import LocalConfig, token_path
from reconcile.localapi.web.app import create_app
from reconcile.localapi.web.draining import draining
from reconcile.localapi.web.dropping import drop_without_answer
from reconcile.localapi.web.faults import DropConnection
from reconcile.localapi.web.vanishing import Vanishing

START_TIMEOUT = 30.0
GRACEFUL_SECONDS = 5.0
POLL_SECONDS = 0.05  # how soon a stop asked for by a flag (a signal handler's) is acted on
StopOn = Callable[[Callable[[int], None]], AbstractContextManager[object]]
# Every held long-poll is an open stream; an HTTP/2 client sends all its waits on one connection.
MAX_STREAMS = 1000


class _Host:
    """One server: its ASGI app, a count of requests in progress, and stop flags that any thread
    or signal handler may set. `run` serves on the calling thread's event loop until stopped."""

    def __init__(self, config: LocalConfig) -> None:
        self._app = create_app(config)
        services = self._app.state.services
        self.token: str = services.token
        self.mode: str = services.backend.sandbox.mode
        self._notifier = services.backend.notifier
        self.started = threading.Event()
        self.finished = threading.Event()
        self.in_flight = 0
        self.announce: str | None = None
        self.url = ""
        self._stop_asked = False
        self._force = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, self._watch_startup(send))
            return
        self.in_flight += 1
        client = Vanishing(receive, send)
        try:
            await self._app(scope, *draining(scope, client.receive, client.send))
        except DropConnection:
            await drop_without_answer(send)
        finally:
            client.close()
            self.in_flight -= 1

    def _watch_startup(self, send: Any) -> Any:
        async def watched(message: Any) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                if self.announce is not None:
                    print(self.announce.format(url=self.url), flush=True)
                self.started.set()

        return watched

    def stop(self) -> None:
        """Stop once started (or now): held long-polls answer, then connections may finish."""
        self._stop_asked = True

    def request_stop(self, _signum: int = 0) -> None:
        """First call: `stop`; later calls: stop without waiting for requests in progress. Only
        sets flags, so a signal handler may call it at any moment."""
        if self._stop_asked:
            self._force = True
        self._stop_asked = True

    def abort(self) -> None:
        """Make a stop (under way or not) skip waiting for connections and tasks."""
        self._stop_asked = self._force = True

    async def run(self, sock: socket.socket, own_signals: bool = False) -> None:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        if own_signals:
            for number in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(number, self.request_stop, number)
        forcing = loop.create_task(self._cancel_when_forced(main))
        try:
            await worker_serve(
                wrap_app(self, 0, "asgi"),
                _hypercorn_config(),
                sockets=Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[]),
                shutdown_trigger=self._until_stopped,
            )
        finally:
            forcing.cancel()
            self.finished.set()

    async def _until_stopped(self) -> None:
        while not self._stop_asked:
            await asyncio.sleep(POLL_SECONDS)
        self._notifier.close()  # held long-polls answer now, before the graceful timeout

    async def _cancel_when_forced(self, main: asyncio.Task[Any] | None) -> None:
        while not self._force:
            await asyncio.sleep(POLL_SECONDS)
        if main is not None:
            main.cancel()  # skips the wait for connections (and the app's own shutdown)


def _hypercorn_config() -> Config:
    config = Config()
    config.loglevel = "WARNING"
    config.accesslog = None
    config.graceful_timeout = GRACEFUL_SECONDS
    config.h2_max_concurrent_streams = MAX_STREAMS
    config.keep_alive_max_requests = 1 << 30  # no forced reconnects (HTTP/2 would send GOAWAY)
    config.include_server_header = False
    config.include_date_header = False  # the app dates every answer by the backend's clock
    return config


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen up front, so a taken port is an OSError in the caller and a client that
    connects while the server is still starting waits instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto TCP matters: asyncio only sets TCP_NODELAY on sockets that say so (else ~40 ms stalls)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class RunningServer:
    """A local server running on its own thread; `stop()` (or leaving the `with`) ends it."""

    def __init__(self, host: _Host, thread: threading.Thread, url: str, token: str) -> None:
        self._host = host
        self._thread = thread
        self.url = url
        self.token = token

    @property
    def requests_in_progress(self) -> int:
        """How many requests the app is answering right now (held long-polls included)."""
        return self._host.in_flight

    def stop(self) -> None:
        self._host.stop()
        self._thread.join(timeout=15)

    def abort(self) -> None:
        """Make a stop under way skip waiting for connections and tasks (only sets flags: safe
        to call from a signal handler)."""
        self._host.abort()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(config: LocalConfig) -> RunningServer:
    """Start serving on a thread with its own event loop; returns once the server answers.

    Raises OSError when the address cannot be bound or the server does not come up."""
    sock = bind(config.host, config.port)
    try:
        host = _Host(config)
    except BaseException:
        sock.close()
        raise
    host.url = _url_of(sock)

    def run() -> None:
        try:
            with contextlib.suppress(asyncio.CancelledError):  # an abort
                asyncio.run(host.run(sock))
        finally:
            sock.close()

    thread = threading.Thread(target=run, name="rlstate-localapi", daemon=True)
    # the thread starts with SIGINT/SIGTERM blocked: the process's signals go to its main
    # thread, whose handlers own them (a signal taken by this thread would not wake it)
    masked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, masked)
    deadline = time.monotonic() + START_TIMEOUT
    while not host.started.wait(0.01):
        if host.finished.is_set() or not thread.is_alive() or time.monotonic() > deadline:
            host.stop()
            raise OSError(f"the local server did not start on {config.host}:{config.port}")
    return RunningServer(host, thread, host.url, host.token)


def serve(config: LocalConfig, stop_on: StopOn | None = None) -> None:
    """Serve until interrupted (SIGINT or SIGTERM; a second one stops without waiting for requests
    in progress), after one line saying where (never the token itself).

    `stop_on(request_stop)` is held while serving: whoever handles the process's signals calls
    `request_stop` for each (without it, the server handles them). Raises OSError when the address
    cannot be bound."""
    sock = bind(config.host, config.port)
    try:
        host = _Host(config)
        host.url = _url_of(sock)
        note = (
            "token as given at start" if config.token else f"token in {token_path(config.data_dir)}"
        )
        host.announce = (
            f"rlstate local API at {{url}} (data {config.data_dir}, sandbox {host.mode}, {note})"
        )
        listening = stop_on(host.request_stop) if stop_on is not None else nullcontext()
        with listening, contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            asyncio.run(host.run(sock, own_signals=stop_on is None))
    finally:
        sock.close()
    if not host.started.is_set():
        raise OSError(f"the local server could not start on {config.host}:{config.port}")
