"""Pinned wire format: the client's exchanges with the local backend, replayed from cassettes.

Replay (default) needs no server. Re-record against a fresh local backend with:
    RLSTATE_RECORD=1 python -m pytest tests/api -k cassette
"""

from __future__ import annotations

from typing import Any

import pytest
from api_scenarios import LOCAL_SCENARIOS, Scenario
from api_support import run
from cassette_support import CASSETTE_ROOT, make_vcr, no_sleep, recording

from reconcile.api import RunloopClient

MODULE = "test_api_cassettes"
REPLAY_URL = "http://localapi.test"


@pytest.mark.parametrize("name", sorted(LOCAL_SCENARIOS))
def test_cassette(name: str, request: pytest.FixtureRequest) -> None:
    scenario: Scenario = LOCAL_SCENARIOS[name]
    record = recording()
    if record:
        server: Any = request.getfixturevalue("local_server")
        url, key, sleep = server.url, server.token, None
    else:
        if not (CASSETTE_ROOT / MODULE / f"{name}.yaml").exists():
            pytest.fail(f"cassette {name}.yaml is missing; re-record with RLSTATE_RECORD=1")
        url, key, sleep = REPLAY_URL, "replay-key", no_sleep
    recorder = make_vcr(MODULE, record=record, secret=key, origin=url if record else None)

    async def play() -> None:
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep else {}
        async with RunloopClient(url, key, **kwargs) as client:
            await scenario(client)

    with recorder.use_cassette(f"{name}.yaml") as cassette:
        run(play())
        if not record:
            assert cassette.all_played, "the client sent fewer requests than were recorded"
