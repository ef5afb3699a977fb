"""Ends one request without any answer, for injected faults (faults.DropConnection): over HTTP/1.1
the connection closes; over HTTP/2 only that stream is reset (RST_STREAM), the others go on.

hypercorn has no public way to do this, so it reaches its protocol objects through the `send`
callable it gave the app; anything unexpected there is a RuntimeError, never a half-sent answer."""

from __future__ import annotations

import contextlib
from typing import Any

import h2.errors
from hypercorn.events import Closed
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import ASGIHTTPState, HTTPStream
from priority.priority import MissingStreamError


async def drop_without_answer(send: Any) -> None:
    """Close the request that `send` belongs to without answering it (nothing may be sent yet)."""
    stream = getattr(send, "__self__", None)
    protocol = getattr(getattr(stream, "send", None), "__self__", None)
    if not isinstance(stream, HTTPStream) or stream.state != ASGIHTTPState.REQUEST:
        raise RuntimeError("cannot drop this request: an answer has started, or unknown server")
    stream.closed = True  # hypercorn sends nothing more for this request
    if isinstance(protocol, H2Protocol):
        await _reset_stream(protocol, stream.stream_id)
    elif isinstance(protocol, H11Protocol):
        await protocol.send(Closed())  # the TCP connection closes with no answer
    else:
        raise RuntimeError(f"cannot drop a request of {type(protocol).__name__}")


async def _reset_stream(protocol: H2Protocol, stream_id: int) -> None:
    protocol.connection.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
    protocol.stream_buffers.pop(stream_id, None)
    with contextlib.suppress(MissingStreamError):
        protocol.priority.remove_stream(stream_id)
    await protocol.stream_send(StreamClosed(stream_id=stream_id))  # forgets it; flushes the reset
