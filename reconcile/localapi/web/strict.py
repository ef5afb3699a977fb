"""Checks the JSON type of every request field and query parameter of a /v1/ route, emulated or
refused, before anything else answers: a 400 naming the first wrong field. The types come from
request_types.json (derived from Runloop's OpenAPI description); limits, enums, required fields and
which fields a route takes stay with the routes. Pure ASGI middleware; no state."""

from __future__ import annotations

import json
import math
import re
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reconcile.localapi.state.problems import Invalid
from reconcile.localapi.web.buffered import read_all, replaying
from reconcile.localapi.web.routes.params import is_number, parse_object

# Long-poll holds: the spec types them as integers; the server takes fractions of a second too.
FRACTIONS_ACCEPTED = frozenset({"timeout_seconds", "optimistic_timeout"})
_TYPE_WORDS = {"s": "a string", "i": "an integer", "n": "a number", "b": "true or false"}
_QUERY_TRUE, _QUERY_FALSE = ("true", "1", "yes"), ("false", "0", "no")


@cache
def _table() -> list[tuple[re.Pattern[str], str, int, dict[str, Any]]]:
    """(path pattern, method, number of path parameters, entry), fewest parameters first, so that
    `/v1/devboxes/disk_snapshots` wins over `/v1/devboxes/{id}`."""
    text = resources.files("reconcile.localapi.web").joinpath("request_types.json").read_text()
    rows = []
    for key, entry in json.loads(text).items():
        method, template = key.split(" ", 1)
        params = template.count("{")
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        rows.append((pattern, method, params, entry))
    return sorted(rows, key=lambda row: row[2])


def entry_for(method: str, path: str) -> dict[str, Any] | None:
    for pattern, row_method, _params, entry in _table():
        if row_method == method and pattern.match(path):
            return entry
    return None


def body_problem(node: Any, value: Any, name: str) -> str | None:
    """The first field of `value` that does not have the type `node` says, as `name: message`."""
    if value is None or node == "*":
        return None  # null is "absent" for every field
    if isinstance(node, str):
        return None if _primitive_ok(node, value, name) else f"{name}: must be {_TYPE_WORDS[node]}"
    if "a" in node:
        if not isinstance(value, list):
            return f"{name}: must be a list"
        return _first(body_problem(node["a"], item, f"{name}[{i}]") for i, item in enumerate(value))
    if not isinstance(value, dict):
        return f"{name}: must be an object"
    fields, values = node.get("o", {}), node.get("v")
    prefix = f"{name}." if name else ""
    return _first(
        body_problem(fields.get(key, values), item, f"{prefix}{key}")
        for key, item in value.items()
        if key in fields or values is not None
    )


def _primitive_ok(kind: str, value: Any, name: str) -> bool:
    if kind == "s":
        return isinstance(value, str)
    if kind == "b":
        return isinstance(value, bool)
    if not is_number(value):
        return False
    return kind == "n" or value == int(value) or name.rsplit(".", 1)[-1] in FRACTIONS_ACCEPTED


def _first(problems: Any) -> str | None:
    return next((p for p in problems if p is not None), None)


def query_problem(types: dict[str, Any], query_string: bytes) -> str | None:
    for name, raw in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        kind = types.get(name)
        if raw == "" or not isinstance(kind, str) or kind in ("s", "*"):
            continue
        if kind == "b" and raw.lower() not in (*_QUERY_TRUE, *_QUERY_FALSE):
            return f"{name}: must be true or false"
        if kind in ("i", "n") and not _query_number(raw, integral=kind == "i"):
            return f"{name}: must be {_TYPE_WORDS[kind]}"
    return None


def _query_number(raw: str, integral: bool) -> bool:
    try:
        value: float = int(raw) if integral else float(raw)
    except ValueError:
        return False
    return is_number(value) and math.isfinite(value)


class StrictInputMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        entry = None
        if scope["type"] == "http" and path.startswith("/v1/"):
            entry = entry_for(str(scope["method"]), path)
        if entry is None:
            await self.app(scope, receive, send)
            return
        problem = query_problem(entry.get("query", {}), scope.get("query_string", b""))
        content_type = Headers(scope=scope).get("content-type", "")
        if problem is None and "body" in entry and not content_type.startswith("multipart/"):
            raw = await read_all(receive)
            receive = replaying(raw, receive)
            try:
                problem = body_problem(entry["body"], parse_object(raw), "")
            except Invalid as error:
                problem = error.message
        if problem is not None:
            await JSONResponse({"message": problem}, status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)
