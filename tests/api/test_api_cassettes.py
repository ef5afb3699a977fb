"""Pinned wire format: the client's exchanges with the local backend, replayed from cassettes.

Replay (default) needs no server. Re-record against a fresh local backend with:
    RLSTATE_RECORD=1 python -m pytest tests/api -k cassette
"""

from __future__ import annotations

from typing import Any

import pytest
from api_scenarios import LOCAL_SCENARIOS, play_cassette
from cassette_support import CASSETTE_ROOT, recording

MODULE = "test_api_cassettes"
PLACEHOLDER = "http://localapi.test"


@pytest.mark.parametrize("name", sorted(LOCAL_SCENARIOS))
def test_cassette(name: str, request: pytest.FixtureRequest) -> None:
    record = recording()
    if record:
        server: Any = request.getfixturevalue("local_server")
        url, key = server.url, server.token
    else:
        if not (CASSETTE_ROOT / MODULE / f"{name}.yaml").exists():
            pytest.fail(f"cassette {name}.yaml is missing; re-record with RLSTATE_RECORD=1")
        url, key = PLACEHOLDER, "replay-key"
    play_cassette(
        LOCAL_SCENARIOS[name],
        MODULE,
        name,
        record=record,
        url=url,
        key=key,
        placeholder=PLACEHOLDER,
    )
