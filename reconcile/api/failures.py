"""Translates every way an HTTP call can fail into the rlstate error tree; the ONE place that does.

It decides nothing about retrying (see retry.py) and sends nothing. Every message is one
line, carries the server's own `message` when it gave one, and never contains the API key.
"""

from __future__ import annotations

import datetime
import json
from email.utils import parsedate_to_datetime

import httpx
from pydantic import ValidationError

from reconcile.errors import (
    ApiAuthError,
    ApiBadRequestError,
    ApiConflictError,
    ApiConnectionError,
    ApiError,
    ApiNotFoundError,
    ApiProtocolError,
    ApiRateLimitError,
    ApiServerError,
    ApiTimeoutError,
    ConfigError,
    RlstateError,
)

Failure = httpx.HTTPError | httpx.InvalidURL | httpx.Response | ValueError

MAX_MESSAGE_CHARS = 300

_STATUS_CLASSES: dict[int, type[ApiError]] = {
    400: ApiBadRequestError,
    401: ApiAuthError,
    403: ApiAuthError,
    404: ApiNotFoundError,
    408: ApiTimeoutError,
    409: ApiConflictError,
    410: ApiNotFoundError,
    422: ApiBadRequestError,
    429: ApiRateLimitError,
}

_STATUS_TEXT: dict[int, str] = {
    401: "the API key is missing or was not accepted",
    403: "the API key is not allowed to do this",
    404: "not found",
    408: "the server gave up waiting",
    409: "the resource is in the wrong state for this",
    429: "too many requests (throttled)",
}


def translate_failure(
    failure: Failure,
    *,
    method: str,
    path: str,
    secret: str | None = None,
    attempts: int = 1,
) -> RlstateError:
    """The rlstate error for a failed call: an httpx exception, an error response, or a bad body.

    `path` is the URL path only (never a query, which may hold signed tokens); `secret` is
    scrubbed from the message; `attempts` > 1 says the call was already retried.
    """
    if isinstance(failure, httpx.InvalidURL | httpx.UnsupportedProtocol):
        text = f"{method} {path}: the URL cannot be used: {_describe(failure)}"
        return ConfigError(_clean(text, secret))
    cls, text, status, retry_after = _classify(failure)
    if attempts > 1:
        text = f"{text} (gave up after {attempts} attempts)"
    return cls(
        _clean(text, secret), status=status, method=method, path=path, retry_after=retry_after
    )


def _classify(
    failure: httpx.HTTPError | httpx.Response | ValueError,
) -> tuple[type[ApiError], str, int | None, float | None]:
    if isinstance(failure, httpx.Response):
        return _classify_response(failure)
    if isinstance(failure, httpx.HTTPStatusError):
        return _classify_response(failure.response)
    if isinstance(failure, ValidationError):
        return ApiProtocolError, f"the answer has the wrong shape: {_shape(failure)}", None, None
    if isinstance(failure, ValueError):
        return ApiProtocolError, f"the answer is not valid JSON ({failure})", None, None
    return _classify_exception(failure)


def _classify_exception(exc: httpx.HTTPError) -> tuple[type[ApiError], str, int | None, None]:
    detail = _describe(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return ApiTimeoutError, f"timed out connecting to the API: {detail}", None, None
    if isinstance(exc, httpx.PoolTimeout):
        return ApiTimeoutError, f"timed out waiting for a free connection: {detail}", None, None
    if isinstance(exc, httpx.TimeoutException):
        return ApiTimeoutError, f"no answer in time: {detail}", None, None
    if isinstance(exc, httpx.ConnectError):
        return ApiConnectionError, f"cannot connect to the API: {detail}", None, None
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.LocalProtocolError):
        return ApiConnectionError, f"the connection failed: {detail}", None, None
    if isinstance(exc, httpx.DecodingError):
        return ApiProtocolError, f"the answer cannot be decoded: {detail}", None, None
    if isinstance(exc, httpx.TooManyRedirects):
        return ApiProtocolError, f"too many redirects: {detail}", None, None
    return ApiProtocolError, f"the request could not be sent: {detail}", None, None


def _classify_response(
    response: httpx.Response,
) -> tuple[type[ApiError], str, int | None, float | None]:
    status = response.status_code
    if 200 <= status < 300:
        return ApiProtocolError, "the answer cannot be read", status, None
    message = server_message(response) or _STATUS_TEXT.get(status) or _reason(response)
    if status in _STATUS_CLASSES:
        cls = _STATUS_CLASSES[status]
    elif status >= 500:
        cls = ApiServerError
    elif status >= 400:
        cls = ApiBadRequestError
    else:
        cls, message = ApiProtocolError, f"unexpected status: {message}"
    return cls, message, status, retry_after_seconds(response.headers)


def server_message(response: httpx.Response) -> str:
    """The server's own explanation from a JSON error body (`message`, else `error`/`detail`)."""
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for key in ("message", "error", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
    return ""


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The wait a server asked for, from `retry-after-ms` or `retry-after` (seconds or a date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return _retry_after_date(raw, headers.get("date"))


def _retry_after_date(raw: str, server_date: str | None) -> float | None:
    try:
        when = parsedate_to_datetime(raw)
        now = parsedate_to_datetime(server_date) if server_date else None
    except (TypeError, ValueError):
        return None
    if now is None:
        now = datetime.datetime.now(datetime.UTC)
    return max((when - now).total_seconds(), 0.0)


def _shape(error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _describe(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def _reason(response: httpx.Response) -> str:
    phrase = response.reason_phrase
    return phrase.lower() if phrase else f"HTTP {response.status_code}"


def _clean(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "***")
    one_line = " ".join(text.split())
    if len(one_line) > MAX_MESSAGE_CHARS:
        one_line = one_line[: MAX_MESSAGE_CHARS - 1] + "…"
    return one_line
