"""A lean HTTP/1.1 keep-alive client for the API's own requests; no retries, no limits, no policy.

httpx (with httpcore, anyio and h11 under it) costs 1.5-2 ms of client CPU per request on a
busy 2-core machine, against 0.2 ms for plain asyncio streams (measured: 2,000 status reads at
50 ms per answer, 64 in flight). A run that reads thousands of statuses or deletes thousands of
snapshots is then bound by its own CPU, not by the API. So requests to the API's own URL go over
this: one asyncio.Protocol per connection, the request written in one piece, the answer parsed
here (Content-Length, chunked, or until close) and handed back as an httpx.Response (which
decodes gzip). Failures are raised as the httpx exceptions the retry rules know. Anything else
(presigned storage URLs, proxies from the environment, test transports) stays on httpx.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import ssl
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

MAX_HEAD_BYTES = 64 * 1024
# A host with several addresses (IPv6 and IPv4) is tried on the next one after this long without
# waiting for the first to fail (RFC 8305, as httpx does): where IPv6 is routed but dropped, the
# first address alone would use up the whole connect timeout, on every attempt.
HAPPY_EYEBALLS_DELAY = 0.25
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def usable_for(base_url: str, transport: httpx.AsyncBaseTransport | None) -> bool:
    """Whether the API's requests may go over this client: a real network (no transport given)
    and no proxy in the environment (httpx honours those; this client does not)."""
    if transport is not None:
        return False
    names = {*PROXY_VARIABLES, *(v.lower() for v in PROXY_VARIABLES)}
    return not any(os.environ.get(n) for n in names) and urlsplit(base_url).scheme in (
        "http",
        "https",
    )


def encode_body(body: Any) -> bytes:
    """JSON as httpx sends it (compact, UTF-8, no NaN)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: bytes received so far, and whether the peer has gone."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.gone = False
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.gone = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def reusable(self) -> bool:
        """Idle and still open: the server has neither closed it nor sent anything unasked,
        even if the event loop has not run since (the socket is asked, as httpcore does)."""
        t = self.transport
        if self.gone or self.buffer or t is None or t.is_closing():
            return False
        sock = t.get_extra_info("socket")
        if sock is None:
            return True
        try:
            poller = select.poll()  # not select.select: no limit on the descriptor's number
            poller.register(sock.fileno(), select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    async def more(self) -> None:
        """Waits for more bytes; ReadError once the peer has closed."""
        if self.gone:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self.gone = True
        if self.transport is not None:
            self.transport.close()


class WirePool:
    """Keep-alive connections to one API origin, at most `most` open at once."""

    def __init__(self, base_url: str, verify: ssl.SSLContext | None, most: int) -> None:
        parts = urlsplit(base_url)
        self.tls = verify if parts.scheme == "https" else None
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = self.port == (443 if parts.scheme == "https" else 80)
        self.authority = host if default else f"{host}:{self.port}"
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(most)
        self._open: set[_Connection] = set()

    async def send(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        *,
        params: Any = None,
        body: bytes | None = None,
        timeout: httpx.Timeout,
    ) -> httpx.Response:
        """One request, its whole answer read."""
        path = self.prefix + target
        if params:
            path += "?" + urlencode(params, quote_via=quote)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.authority}"]
        lines += ["Accept-Encoding: gzip, deflate", "Connection: keep-alive"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        async with self._slots:
            conn = await self._connection(timeout.connect)
            keep = False
            try:
                assert conn.transport is not None
                conn.transport.write(data)
                async with asyncio.timeout(timeout.read):
                    status, head, content, keep = await _read_answer(conn, method)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for the answer") from None
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from None
            finally:
                if keep and conn.reusable():
                    self._idle.append(conn)
                else:
                    self._drop(conn)
        return httpx.Response(status, headers=head, content=content)

    async def _connection(self, connect_timeout: float | None) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable():
                return conn
            self._drop(conn)
        loop = asyncio.get_running_loop()
        conn = _Connection()
        try:
            async with asyncio.timeout(connect_timeout):
                await loop.create_connection(
                    lambda: conn,
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls is not None else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
                )
        except TimeoutError:
            conn.close()
            raise httpx.ConnectTimeout("timed out connecting") from None
        except OSError as exc:  # ssl.SSLError is an OSError
            conn.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        self._open.add(conn)
        return conn

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def aclose(self) -> None:
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()


async def _read_answer(
    conn: _Connection, method: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    """Status, headers, body and whether the connection may carry another request."""
    while True:
        status, version, head = await _read_head(conn)
        if not 100 <= status < 200:
            break
    fields = {k.lower(): v for k, v in head}
    keep = version == b"HTTP/1.1" and fields.get(b"connection", b"").lower() != b"close"
    if method == "HEAD" or status in (204, 304):
        return status, head, b"", keep
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        return status, head, await _read_chunked(conn), keep
    if b"content-length" in fields:
        try:
            size = int(fields[b"content-length"])
        except ValueError:
            raise httpx.RemoteProtocolError("invalid Content-Length") from None
        return status, head, await _read_exactly(conn, size), keep
    while not conn.gone:  # no length given: the body ends when the server closes
        await conn.more()
    content = bytes(conn.buffer)
    conn.buffer.clear()
    return status, head, content, False


async def _read_head(conn: _Connection) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    while (end := conn.buffer.find(b"\r\n\r\n")) < 0:
        if len(conn.buffer) > MAX_HEAD_BYTES:
            raise httpx.RemoteProtocolError("the answer's head is too long")
        await conn.more()
    lines = bytes(conn.buffer[:end]).split(b"\r\n")
    del conn.buffer[: end + 4]
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError("not an HTTP/1.x answer")
    head = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise httpx.RemoteProtocolError("a malformed header line")
        head.append((name.strip(), value.strip()))
    return int(parts[1]), parts[0], head


async def _read_exactly(conn: _Connection, size: int) -> bytes:
    while len(conn.buffer) < size:
        if conn.gone:
            raise httpx.RemoteProtocolError("the server closed the connection mid-answer")
        await conn.more()
    content = bytes(conn.buffer[:size])
    del conn.buffer[:size]
    return content


async def _read_chunked(conn: _Connection) -> bytes:
    parts: list[bytes] = []
    while True:
        while (end := conn.buffer.find(b"\r\n")) < 0:
            await conn.more()
        size_field = bytes(conn.buffer[:end]).split(b";", 1)[0].strip()
        del conn.buffer[: end + 2]
        try:
            size = int(size_field, 16)
        except ValueError:
            raise httpx.RemoteProtocolError("invalid chunk size") from None
        if size == 0:
            while (end := conn.buffer.find(b"\r\n")) != 0:  # trailers, up to an empty line
                if end > 0:
                    del conn.buffer[: end + 2]
                else:
                    await conn.more()
            del conn.buffer[:2]
            return b"".join(parts)
        parts.append(await _read_exactly(conn, size))
        await _read_exactly(conn, 2)
