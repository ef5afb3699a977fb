"""Reads whatever of a request body the app left unread before its answer starts. hypercorn closes
an HTTP/1.1 connection (without saying so in the answer) when the answer is complete before the
request's body has arrived, and a client that sends its next request on it then finds
"disconnected without a response". Pure ASGI wrapping; no decisions."""

from __future__ import annotations

from typing import Any

DRAIN_LIMIT = 8 << 20  # bytes dropped at most; beyond, an HTTP/1.1 answer says `connection: close`
_CLOSE = (b"connection", b"close")


def draining(scope: Any, receive: Any, send: Any) -> tuple[Any, Any]:
    """(receive, send) for the app: the same, except that the answer's start waits until the
    request body has been read to its end."""
    done = False

    async def tracked() -> Any:
        nonlocal done
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            done = True
        return message

    async def answering(message: Any) -> None:
        if message["type"] == "http.response.start" and not done:
            read = 0
            while not done and read <= DRAIN_LIMIT:
                read += len((await tracked()).get("body", b""))
            if not done and str(scope.get("http_version", "")).startswith("1"):
                message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
        await send(message)

    return tracked, answering
