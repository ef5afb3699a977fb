"""Every way an HTTP call can fail maps to one rlstate error class with a one-line message.

Faults are raised by an httpx.MockTransport (the transport layer), so the whole client path
runs: build request, send, classify, translate.
"""

from __future__ import annotations

import inspect

import httpx
import pytest
from api_support import KEY, Harness, devbox_json, respond_in_turn, run

from reconcile.api import RetryPolicy, translate_failure
from reconcile.errors import (
    ApiAuthError,
    ApiBadRequestError,
    ApiConflictError,
    ApiConnectionError,
    ApiNotFoundError,
    ApiProtocolError,
    ApiRateLimitError,
    ApiServerError,
    ApiTimeoutError,
    ConfigError,
    RetryableApiError,
    RlstateError,
    TerminalApiError,
)

TRANSPORT_FAULTS: dict[type[Exception], type[RlstateError]] = {
    httpx.ConnectError: ApiConnectionError,
    httpx.ConnectTimeout: ApiTimeoutError,
    httpx.ReadTimeout: ApiTimeoutError,
    httpx.WriteTimeout: ApiTimeoutError,
    httpx.PoolTimeout: ApiTimeoutError,
    httpx.TimeoutException: ApiTimeoutError,
    httpx.RemoteProtocolError: ApiConnectionError,
    httpx.ProtocolError: ApiConnectionError,
    httpx.ReadError: ApiConnectionError,
    httpx.WriteError: ApiConnectionError,
    httpx.CloseError: ApiConnectionError,
    httpx.NetworkError: ApiConnectionError,
    httpx.ProxyError: ApiConnectionError,
    httpx.TransportError: ApiConnectionError,
    httpx.UnsupportedProtocol: ConfigError,
    httpx.InvalidURL: ConfigError,
    httpx.LocalProtocolError: ApiProtocolError,
    httpx.DecodingError: ApiProtocolError,
    httpx.TooManyRedirects: ApiProtocolError,
    httpx.RequestError: ApiProtocolError,
    httpx.HTTPError: ApiProtocolError,
}

# Not failures of a call: misuse of a response stream, or cookie handling we never do.
NOT_CALL_FAILURES = {
    httpx.StreamError,
    httpx.StreamConsumed,
    httpx.StreamClosed,
    httpx.RequestNotRead,
    httpx.ResponseNotRead,
    httpx.CookieConflict,
    httpx.HTTPStatusError,  # we never raise_for_status; covered below by its response
}

STATUSES: list[tuple[int, type[RlstateError]]] = [
    (400, ApiBadRequestError),
    (401, ApiAuthError),
    (403, ApiAuthError),
    (404, ApiNotFoundError),
    (408, ApiTimeoutError),
    (409, ApiConflictError),
    (410, ApiNotFoundError),
    (418, ApiBadRequestError),
    (422, ApiBadRequestError),
    (429, ApiRateLimitError),
    (500, ApiServerError),
    (502, ApiServerError),
    (503, ApiServerError),
    (504, ApiServerError),
    (302, ApiProtocolError),
]

NO_RETRY = RetryPolicy(max_attempts=1)


def fail_with(fault: Exception | httpx.Response) -> RlstateError:
    harness = Harness(respond_in_turn(fault))

    async def call() -> None:
        async with harness.client(retry=NO_RETRY) as client:
            await client.get_devbox("dbx_1")

    with pytest.raises(RlstateError) as caught:
        run(call())
    assert len(harness.requests) == 1
    return caught.value


def test_every_httpx_exception_kind_is_in_the_table() -> None:
    kinds = {
        obj
        for _, obj in inspect.getmembers(httpx, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__.startswith("httpx")
    }
    assert kinds - NOT_CALL_FAILURES == set(TRANSPORT_FAULTS)


@pytest.mark.parametrize(
    ("fault", "expected"), list(TRANSPORT_FAULTS.items()), ids=lambda v: v.__name__
)
def test_transport_fault_maps_to_its_class(
    fault: type[Exception], expected: type[RlstateError]
) -> None:
    error = fail_with(fault("boom at the transport"))
    assert type(error) is expected
    assert "boom at the transport" in str(error)
    assert "\n" not in str(error)
    if isinstance(error, TerminalApiError | RetryableApiError):
        assert str(error).startswith("GET /v1/devboxes/dbx_1: ")


@pytest.mark.parametrize(("status", "expected"), STATUSES, ids=lambda v: str(v))
def test_status_maps_to_its_class_with_server_message(
    status: int, expected: type[RlstateError]
) -> None:
    answer = httpx.Response(status, json={"message": f"the server says {status}\nsecond line"})
    error = fail_with(answer)
    assert type(error) is expected
    assert getattr(error, "status", None) == status
    assert str(error).startswith(f"GET /v1/devboxes/dbx_1 ({status}): ")
    assert str(error).endswith(f"the server says {status} second line")


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "API key"), (404, "not found"), (429, "throttled"), (502, "bad gateway")],
    ids=str,
)
def test_status_without_server_message_still_explains(status: int, words: str) -> None:
    error = fail_with(httpx.Response(status, text="<html>\n<h1>oops</h1></html>"))
    assert words in str(error)
    assert "\n" not in str(error)


def test_retryable_and_terminal_are_different_classes() -> None:
    for status, cls in STATUSES:
        retryable = status in (408, 429) or status >= 500
        assert issubclass(cls, RetryableApiError) == retryable, status


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json {", "not valid JSON"),
        (b'{"id": "dbx_1"}', "wrong shape: status: Field required"),
        (b'["a list"]', "wrong shape"),
        (b"", "wrong shape"),
    ],
    ids=["bad-json", "missing-field", "wrong-type", "empty-body"],
)
def test_unreadable_success_answer_is_a_protocol_error(body: bytes, words: str) -> None:
    error = fail_with(httpx.Response(200, content=body))
    assert isinstance(error, ApiProtocolError)
    assert words in str(error)


def test_rate_limit_error_carries_retry_after() -> None:
    error = fail_with(httpx.Response(429, headers={"retry-after": "7"}))
    assert isinstance(error, ApiRateLimitError)
    assert error.retry_after == 7.0


def test_long_server_message_is_cut_to_one_short_line() -> None:
    error = fail_with(httpx.Response(400, json={"message": "x" * 5000}))
    assert len(str(error)) < 400


def test_translate_failure_scrubs_the_key_and_keeps_query_out() -> None:
    response = httpx.Response(403, json={"message": f"key {KEY} is not allowed"})
    error = translate_failure(response, method="GET", path="/v1/objects", secret=KEY)
    assert KEY not in str(error)
    assert "***" in str(error)


def test_partial_answers_parse_with_defaults() -> None:
    harness = Harness(respond_in_turn(httpx.Response(200, json=devbox_json(metadata=None))))

    async def call() -> None:
        async with harness.client() as client:
            devbox = await client.get_devbox("dbx_1")
            assert devbox.metadata == {}
            assert devbox.name is None
            assert devbox.launch_parameters == {}

    run(call())
