"""Serves the local API with uvicorn: blocking (`serve`, for `rlstate local serve`) or on a
thread of its own (`start_in_thread`, for the embedded backend and tests). No resource logic."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconcile.localapi.config import LocalConfig, token_path
from reconcile.localapi.state.notifier import Notifier
from reconcile.localapi.web.app import create_app
from reconcile.localapi.web.faults import DropConnection

START_TIMEOUT = 30.0
StopOn = Callable[[Callable[[int], None]], AbstractContextManager[object]]


class DroppingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, except that DropConnection closes the socket without any answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = _dropping(self.app)


def _dropping(app: Any) -> Any:
    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except DropConnection:
            cycle = getattr(send, "__self__", None)  # uvicorn's RequestResponseCycle
            if cycle is None or cycle.response_started:
                raise
            cycle.response_started = cycle.response_complete = True  # nothing may be sent now
            cycle.transport.close()

    return guarded


class _Server(uvicorn.Server):
    announce: str | None = None
    notifier: Notifier | None = None
    own_signals = True  # False: the caller routes SIGINT/SIGTERM to request_stop
    stop_requested = False

    def request_stop(self, _signum: int = 0) -> None:
        """First call: stop once started (or now); later: stop without waiting. Only sets
        flags, so a signal handler may call it at any moment."""
        if self.stop_requested:
            self.force_exit = True
        self.stop_requested = True

    async def on_tick(self, counter: int) -> bool:
        return self.stop_requested or await super().on_tick(counter)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if not self.own_signals:
            yield
            return
        with super().capture_signals():
            yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.notifier is not None:
            self.notifier.close()  # held long-polls answer now, before the graceful timeout
        await super().shutdown(sockets=sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.announce is not None and self.started:
            print(self.announce.format(url=_url_of(self)), flush=True)


def _url_of(server: uvicorn.Server) -> str:
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front, so a taken port is an OSError in the caller."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto TCP matters: asyncio only sets TCP_NODELAY on sockets that say so (else ~40 ms stalls)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn(config: LocalConfig) -> tuple[_Server, str, str]:
    app = create_app(config)
    services = app.state.services
    ucfg = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        http=DroppingH11Protocol,
        lifespan="on",
        log_level="warning",
        access_log=False,
        date_header=False,  # the app dates every answer by the backend's clock
        timeout_graceful_shutdown=5,
    )
    server = _Server(ucfg)
    server.notifier = services.backend.notifier
    return server, services.token, services.backend.sandbox.mode


class RunningServer:
    """A local server running on its own thread; `stop()` (or leaving the `with`) ends it."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, url: str, token: str
    ) -> None:
        self._server = server
        self._thread = thread
        self.url = url
        self.token = token

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def abort(self) -> None:
        """Make a stop under way skip waiting for connections and tasks (only sets flags: safe
        to call from a signal handler)."""
        self._server.should_exit = self._server.force_exit = True

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
    """Start serving on a thread with its own event loop; returns once the socket accepts.

    Raises OSError when the address cannot be bound or the server does not come up."""
    sock = bind(config.host, config.port)
    server, token, _mode = _uvicorn(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="rlstate-localapi", daemon=True
    )
    # the thread starts with SIGINT/SIGTERM blocked: the process's signals go to its main
    # thread, whose handlers own them (a signal taken by this thread would not wake it)
    masked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, masked)
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise OSError(f"the local server did not start on {config.host}:{config.port}")
        time.sleep(0.01)
    return RunningServer(server, thread, _url_of(server), token)


def serve(config: LocalConfig, stop_on: StopOn | None = None) -> None:
    """Serve until interrupted, after one line saying where (never the token itself).

    `stop_on(request_stop)` is held while serving: whoever handles the process's signals calls
    `request_stop` for each (without it, uvicorn handles them). Raises OSError when the address
    cannot be bound."""
    sock = bind(config.host, config.port)
    server, _token, mode = _uvicorn(config)
    server.own_signals = stop_on is None
    if config.token:
        token_note = "token as given at start"
    else:
        token_note = f"token in {token_path(config.data_dir)}"
    server.announce = (
        f"rlstate local API at {{url}} (data {config.data_dir}, sandbox {mode}, {token_note})"
    )
    try:
        with stop_on(server.request_stop) if stop_on is not None else nullcontext():
            server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        return
    if not server.started:
        raise OSError(f"the local server could not start on {config.host}:{config.port}")
