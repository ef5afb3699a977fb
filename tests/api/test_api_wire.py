"""The lean HTTP/1.1 client (reconcile/api/wire.py) against a raw socket server that answers
each request with bytes the test chose: lengths, chunks, gzip, closed and kept connections."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import select
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import run

from reconcile.api import RetryEvent, RunloopClient
from reconcile.api.retry import RetryPolicy
from reconcile.api.wire import WirePool, usable_for
from reconcile.errors import ApiConnectionError, ApiNotFoundError

Answer = Callable[[bytes], bytes | None]  # request head + body -> raw answer (None: hang up)
TIMEOUT = httpx.Timeout(10.0, connect=5.0, pool=None)


def reply(status: int, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@asynccontextmanager
async def raw_server(
    answer: Answer, tls: ssl.SSLContext | None = None, keep_for: int | None = None
) -> AsyncIterator[tuple[str, list[bytes], list[int]]]:
    """Yields (url, requests seen, connections accepted so far); https with `tls`; each
    connection closed by the server once idle after `keep_for` answers (a keep-alive timeout)."""
    seen: list[bytes] = []
    accepted = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        answered = 0
        try:
            while keep_for is None or answered < keep_for:
                head = await reader.readuntil(b"\r\n\r\n")
                size = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        size = int(line.split(b":")[1])
                request = head + await reader.readexactly(size)
                seen.append(request)
                raw = answer(request)
                if raw is None:
                    break
                writer.write(raw)
                await writer.drain()
                answered += 1
                if b"connection: close" in raw.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", seen, accepted
    finally:
        server.close()


def test_lengths_chunks_and_gzip_are_read_and_connections_kept() -> None:
    answers = iter(
        [
            reply(200, b'{"a":1}'),
            reply(200, b"", "Transfer-Encoding: chunked")
            + b'3\r\n{"b\r\n4;x=y\r\n":2}\r\n0\r\nTrailer: t\r\n\r\n',
            reply(200, gzip.compress(b'{"c":3}'), "Content-Encoding: gzip"),
            reply(204, b"", "Content-Length: 0"),
        ]
    )

    async def scenario() -> None:
        async with raw_server(lambda _r: next(answers)) as (url, seen, accepted):
            pool = WirePool(url + "/base/", None, 4)
            a = await pool.send(
                "GET", "/v1/a", {"X-K": "v"}, params={"q[k]": "a b"}, timeout=TIMEOUT
            )
            b = await pool.send("POST", "/v1/b", {}, body=b'{"z":0}', timeout=TIMEOUT)
            c = await pool.send("GET", "/v1/c", {}, timeout=TIMEOUT)
            d = await pool.send("POST", "/v1/d", {}, timeout=TIMEOUT)
            await pool.aclose()
        assert (a.json(), b.json(), c.json(), d.status_code) == ({"a": 1}, {"b": 2}, {"c": 3}, 204)
        assert seen[0].startswith(b"GET /base/v1/a?q%5Bk%5D=a%20b HTTP/1.1\r\n")
        assert b"\r\nX-K: v\r\n" in seen[0] and b"\r\nHost: 127.0.0.1:" in seen[0]
        assert seen[1].endswith(b'Content-Length: 7\r\n\r\n{"z":0}')
        assert b"Content-Length: 0\r\n" in seen[3]
        assert accepted[0] == 1  # one connection carried all four

    run(scenario())


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key), made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", *made, *names],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_verifies_the_certificate_and_keeps_the_connection(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> None:
        async with raw_server(lambda _r: reply(200, b'{"ok":true}'), served) as (url, seen, n):
            pool = WirePool(url, trusting, 4)
            for _ in range(2):
                assert (await pool.send("GET", "/v1/x", {}, timeout=TIMEOUT)).json() == {"ok": True}
            await pool.aclose()
            assert (len(seen), n[0]) == (2, 1)  # both requests over one TLS connection

            stranger = WirePool(url, ssl.create_default_context(), 4)  # the system's CAs only
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await stranger.send("GET", "/v1/x", {}, timeout=TIMEOUT)
            await stranger.aclose()
            assert len(seen) == 2  # nothing was sent to a server that did not prove itself

    run(scenario())


def test_a_closing_answer_is_read_to_the_end_and_its_connection_not_reused() -> None:
    answers = iter(
        [
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
            reply(200, b"second"),
        ]
    )

    async def scenario() -> None:
        async with raw_server(lambda _r: next(answers)) as (url, _seen, accepted):
            pool = WirePool(url, None, 4)
            first = await pool.send("GET", "/v1/x", {}, timeout=TIMEOUT)
            second = await pool.send("GET", "/v1/y", {}, timeout=TIMEOUT)
            await pool.aclose()
        assert (first.text, second.text, accepted[0]) == ("until the end", "second", 2)

    run(scenario())


def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def scenario() -> None:
        async with raw_server(lambda _r: reply(200, b"ok", "Connection: close")) as (
            url,
            _seen,
            accepted,
        ):
            pool = WirePool(url, None, 4)
            for _ in range(3):
                assert (await pool.send("GET", "/v1/x", {}, timeout=TIMEOUT)).text == "ok"
            await pool.aclose()
        assert accepted[0] == 3

    run(scenario())


def test_a_connection_the_server_closed_after_its_keep_alive_timeout_is_replaced() -> None:
    async def scenario() -> None:
        async with raw_server(lambda _r: reply(200, b"ok"), keep_for=1) as (url, seen, accepted):
            pool = WirePool(url, None, 4)
            assert (await pool.send("GET", "/v1/x", {}, timeout=TIMEOUT)).text == "ok"
            async with asyncio.timeout(30):
                while any(not idle.gone for idle in pool._idle):  # the server's close arrives
                    await asyncio.sleep(0.01)
            posted = await pool.send("POST", "/v1/y", {}, body=b"{}", timeout=TIMEOUT)
            await pool.aclose()
        assert (posted.text, len(seen), accepted[0]) == ("ok", 2, 2)  # sent once, on a new one

    run(scenario())


def test_a_close_that_arrived_while_the_loop_was_busy_is_seen_before_reuse() -> None:
    # The server's FIN is in the socket but the event loop has not run since (a busy run): the
    # connection must still not be reused, or the request fails and waits out a retry's backoff.
    served: list[int] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            for _ in range(2):
                conn, _addr = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(reply(200, b"ok"))  # kept alive, then closed while idle
                    served.append(1)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()

        async def scenario() -> str:
            pool = WirePool(f"http://127.0.0.1:{port}", None, 4)
            await pool.send("GET", "/v1/x", {}, timeout=TIMEOUT)
            for idle in pool._idle:  # (none if the close was in before the answer was read)
                assert idle.transport is not None
                fd = idle.transport.get_extra_info("socket").fileno()
                select.select([fd], [], [], 30)  # blocks the loop until the FIN is in the socket
            try:
                return (await pool.send("POST", "/v1/y", {}, body=b"{}", timeout=TIMEOUT)).text
            finally:
                await pool.aclose()

        assert run(scenario()) == "ok"
        thread.join(timeout=30)
    assert len(served) == 2


def test_a_post_cut_off_on_a_kept_connection_is_retried_with_the_same_request_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server's keep-alive timeout closing the connection as the request arrives looks the
    # same: no answer. The retry layer must see a connection failure and send the call again.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    answers = iter([reply(200, b"{}"), None, reply(200, b"{}")])
    events: list[RetryEvent] = []

    async def no_wait(_seconds: float) -> None:
        await asyncio.sleep(0)

    async def scenario() -> None:
        async with raw_server(lambda _r: next(answers)) as (url, seen, accepted):
            client = RunloopClient(url, "k", lean=True, sleep=no_wait, on_retry=events.append)
            async with client:
                await client.delete_snapshot("snp_1")
                await client.delete_snapshot("snp_2")
        ids = [_header(r, b"x-request-id") for r in seen]
        assert len(ids) == 3 and ids[0] != ids[1] == ids[2]
        assert [(e.method, e.reason) for e in events] == [
            ("POST", "connection failed (RemoteProtocolError)")
        ]
        assert accepted[0] == 2

    run(scenario())


def test_informational_answers_before_the_final_one_are_skipped() -> None:
    early = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"

    async def scenario() -> None:
        async with raw_server(lambda _r: early + reply(200, b'{"ok":1}')) as (url, _s, accepted):
            pool = WirePool(url, None, 4)
            for _ in range(2):
                answer = await pool.send("POST", "/v1/x", {}, body=b"{}", timeout=TIMEOUT)
                assert (answer.status_code, answer.json()) == (200, {"ok": 1})
            await pool.aclose()
        assert accepted[0] == 1

    run(scenario())


def _header(request: bytes, name: bytes) -> bytes:
    for line in request.split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} header in {request!r}")


def test_hanging_up_without_an_answer_is_a_transport_error() -> None:
    async def scenario() -> None:
        async with raw_server(lambda _r: None) as (url, _seen, _accepted):
            pool = WirePool(url, None, 4)
            with pytest.raises(httpx.RemoteProtocolError):
                await pool.send("GET", "/v1/x", {}, timeout=TIMEOUT)
            await pool.aclose()

    run(scenario())


def test_a_slow_answer_times_out_and_a_refused_connect_fails_to_connect() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await gate.wait()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = WirePool(f"http://127.0.0.1:{port}", None, 4)
        with pytest.raises(httpx.ReadTimeout):
            await pool.send("GET", "/v1/x", {}, timeout=httpx.Timeout(0.2, connect=5.0))
        gate.set()
        await pool.aclose()
        server.close()
        await server.wait_closed()
        pool = WirePool(f"http://127.0.0.1:{port}", None, 4)
        with pytest.raises(httpx.ConnectError):
            await pool.send("GET", "/v1/x", {}, timeout=TIMEOUT)

    run(scenario())


def test_a_host_whose_first_address_does_not_answer_is_reached_on_its_next() -> None:
    # As where IPv6 is routed but dropped: the name's first address takes no connection (a full
    # listen backlog drops the SYN), its second is the server. httpx reaches it; so must this.
    async def scenario() -> None:
        async with raw_server(lambda _r: reply(200, b"ok")) as (url, _seen, accepted):
            port = int(url.rsplit(":", 1)[1])
            with _unanswering("127.0.0.2", port):
                loop = asyncio.get_running_loop()

                async def both(*_args: object, **_kwargs: object) -> list[Any]:
                    inet = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
                    return [(*inet, ("127.0.0.2", port)), (*inet, ("127.0.0.1", port))]

                loop.getaddrinfo = both  # type: ignore[method-assign]
                pool = WirePool(f"http://api.example:{port}", None, 4)
                short = httpx.Timeout(10.0, connect=3.0)
                answer = await pool.send("GET", "/v1/x", {}, timeout=short)
                await pool.aclose()
        assert (answer.text, accepted[0]) == ("ok", 1)

    run(scenario())


@contextmanager
def _unanswering(host: str, port: int) -> Iterator[None]:
    """A listening address whose backlog is full, so the SYN of a new connection goes unanswered."""
    hole = socket.socket()
    fillers = [socket.socket() for _ in range(3)]
    try:
        hole.bind((host, port))
        hole.listen(0)
        for filler in fillers:
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((host, port))
        yield
    finally:
        for sock in (*fillers, hole):
            sock.close()


def test_the_client_uses_it_for_api_calls_and_maps_its_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    answers = [reply(404, b'{"message":"no such snapshot"}')]

    async def scenario() -> None:
        async with raw_server(lambda _r: answers.pop() if answers else None) as (url, seen, _):
            once = RetryPolicy(max_attempts=1)
            async with RunloopClient(url, "key-not-secret", retry=once, lean=True) as client:
                assert client._http.wire is not None
                with pytest.raises(ApiNotFoundError):
                    await client.get_snapshot_status("snp_1")
                with pytest.raises(ApiConnectionError):
                    await client.delete_snapshot("snp_2")
        assert b"Authorization: Bearer key-not-secret\r\n" in seen[0]
        assert b"x-request-id: " in seen[0] and b"User-Agent: rlstate/" in seen[0]

    run(scenario())


def test_proxies_and_test_transports_stay_on_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert usable_for("https://api.example.com", None)
    assert not usable_for("https://api.example.com", httpx.MockTransport(lambda r: None))  # type: ignore[arg-type, return-value]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert not usable_for("https://api.example.com", None)
