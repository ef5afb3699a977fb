"""The API key never shows: not in error messages, reprs, retry events or log lines."""

from __future__ import annotations

import logging

import httpx
import pytest
from api_support import KEY, Harness, devbox_json, respond_in_turn, run

from reconcile.api import RunloopClient
from reconcile.errors import ConfigError, RlstateError

ECHOES_KEY = {"message": f"bad token Bearer {KEY} for this account"}


def _get_devbox_error(harness: Harness) -> RlstateError:
    """The error a get_devbox call through `harness` ends with (it must end with one)."""

    async def call() -> None:
        async with harness.client() as client:
            await client.get_devbox("dbx_1")

    with pytest.raises(RlstateError) as caught:
        run(call())
    return caught.value


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 503], ids=str)
def test_server_echo_of_the_key_is_scrubbed(status: int) -> None:
    harness = Harness(respond_in_turn(httpx.Response(status, json=ECHOES_KEY)))
    error = _get_devbox_error(harness)
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert all(KEY not in str(event) and KEY not in repr(event) for event in harness.events)


@pytest.mark.parametrize(
    "fault",
    [
        httpx.LocalProtocolError(f"Illegal header value b'Bearer {KEY}\\n'"),
        httpx.ConnectError(f"refused for {KEY}"),
    ],
    ids=["local-protocol", "connect"],
)
def test_transport_message_with_the_key_is_scrubbed(fault: Exception) -> None:
    assert KEY not in str(_get_devbox_error(Harness(respond_in_turn(fault))))


def test_reprs_do_not_show_the_key() -> None:
    client = RunloopClient("http://api.test", KEY)
    try:
        assert KEY not in repr(client)
        assert KEY not in repr(vars(client))
        assert KEY not in repr(vars(client._http))
    finally:
        run(client.aclose())


def test_logs_do_not_show_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers = respond_in_turn(httpx.Response(503), httpx.Response(200, json=devbox_json()))
    harness = Harness(answers)

    async def call() -> None:
        async with harness.client() as client:
            await client.get_devbox("dbx_1")

    run(call())
    assert "retrying" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    "bad_key", [f"{KEY}\n", f"{KEY} extra", f"{KEY}é"], ids=["newline", "space", "non-ascii"]
)
def test_unsendable_key_is_refused_without_echoing_it(bad_key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RunloopClient("http://api.test", bad_key)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("url", ["localhost:8786", "ftp://host", "http://", "not a url"], ids=str)
def test_unusable_base_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="API URL"):
        RunloopClient(url, KEY)
