"""Cloud cassettes: re-recorded against the real Runloop API, replayed everywhere else.

Re-record (creates a small devbox and an object in the account, then removes them):
    RUNLOOP_API_KEY=... python -m pytest tests/api -m live
Without RUNLOOP_API_KEY the live test is skipped; replay is skipped until a recording exists.
"""

from __future__ import annotations

import os

import pytest
from api_scenarios import CLOUD_SCENARIOS, play_cassette
from cassette_support import CASSETTE_ROOT

MODULE = "test_api_live"
CLOUD_URL = "https://api.runloop.ai"
PLACEHOLDER = "https://api.runloop.test"


@pytest.mark.live
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(CLOUD_SCENARIOS))
def test_live_rerecord(name: str) -> None:
    key = os.environ.get("RUNLOOP_API_KEY")
    if not key:
        pytest.skip("RUNLOOP_API_KEY is not set; the live recording needs the real cloud")
    url = os.environ.get("RUNLOOP_BASE_URL", CLOUD_URL)
    play_cassette(
        CLOUD_SCENARIOS[name],
        MODULE,
        name,
        record=True,
        url=url,
        key=key,
        placeholder=PLACEHOLDER,
    )


@pytest.mark.parametrize("name", sorted(CLOUD_SCENARIOS))
def test_cloud_replay(name: str) -> None:
    if not (CASSETTE_ROOT / MODULE / f"{name}.yaml").exists():
        pytest.skip(f"no cloud recording of {name} yet (run the live test with RUNLOOP_API_KEY)")
    play_cassette(
        CLOUD_SCENARIOS[name],
        MODULE,
        name,
        record=False,
        url=PLACEHOLDER,
        key="replay-key",
        placeholder=PLACEHOLDER,
    )
