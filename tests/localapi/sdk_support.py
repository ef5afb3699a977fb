"""Helpers for the SDK sweep (tests/localapi/test_sdk_*.py): the official SDK's clients on
the shared local server, a quick polling pace, and reading the message of a refusal."""

from __future__ import annotations

from typing import Any

from runloop_api_client import APIStatusError, RunloopSDK
from runloop_api_client.lib.polling import PollingConfig

# The SDK polls blueprint builds and snapshot statuses once a second by default; the emulated ones
# finish in a fraction of that, so the sweep polls faster to stay quick.
FAST = PollingConfig(interval_seconds=0.05, max_attempts=600)


def high_level(server: Any) -> RunloopSDK:
    """The high-level SDK object (`RunloopSDK`) on the local server, default retries."""
    return RunloopSDK(base_url=server.url, bearer_token=server.token)


def message_of(exc: APIStatusError) -> str:
    """The server's `message` of an error answer, as the SDK hands it over."""
    body = exc.body
    assert isinstance(body, dict), body
    return str(body["message"])
