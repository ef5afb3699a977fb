"""Reading a whole ASGI request body up front and handing it on to the app unchanged (for the
middlewares that must see the body before the route does). No decisions here."""

from __future__ import annotations

from starlette.types import Message, Receive


async def read_all(receive: Receive) -> bytes:
    """Every body chunk of the request, joined (stops early at a disconnect)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(raw: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the already-read body once, then whatever the server sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()  # the disconnect, when it comes

    return replay
