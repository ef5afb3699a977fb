"""The local server's request-rate limit per token: a token bucket that answers 429 with
Retry-After (whole seconds) and retry-after-ms once a token's burst is spent, as the cloud's
account limit does; set by /_local/faults or the server's config."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import StartServer
from localapi_support import client_for

from reconcile.localapi.web.ratelimit import RateLimits, TokenBucket, retry_after_headers


def test_bucket_lets_a_burst_through_then_one_per_interval() -> None:
    bucket = TokenBucket(rate=10.0, burst=3.0, tokens=3.0, stamp=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.1)
    assert bucket.take(0.05) == pytest.approx(0.05)  # a refusal takes no token
    assert bucket.take(0.1) == 0.0
    assert bucket.take(10.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # capped at burst


def test_each_token_has_its_own_bucket_and_a_new_shape_starts_afresh() -> None:
    now = [0.0]
    limits = RateLimits(lambda: now[0])
    assert limits.wait_for("a", 1.0, None) == 0.0
    assert limits.wait_for("a", 1.0, None) == pytest.approx(1.0)
    assert limits.wait_for("b", 1.0, None) == 0.0
    assert limits.wait_for("a", 2.0, 5.0) == 0.0  # changed limit: full buckets again


@pytest.mark.parametrize(
    ("wait", "seconds", "ms"), [(0.05, "1", "50"), (1.0, "1", "1000"), (2.2, "3", "2200")]
)
def test_retry_after_is_whole_seconds_and_exact_milliseconds(
    wait: float, seconds: str, ms: str
) -> None:
    assert retry_after_headers(wait) == {"retry-after": seconds, "retry-after-ms": ms}


def test_requests_beyond_the_burst_are_answered_429(local_server: Any, api: httpx.Client) -> None:
    local_server.control("/_local/faults", {"rate_limit": 0.5, "rate_limit_burst": 3})
    try:
        answers = [api.get("/v1/devboxes") for _ in range(5)]
        codes = [a.status_code for a in answers]
        assert codes[:3] == [200, 200, 200] and set(codes[3:]) == {429}
        refused = answers[3]
        assert refused.headers["retry-after"] == "2"
        assert 1000 < int(refused.headers["retry-after-ms"]) <= 2000
        assert "rate limit" in refused.json()["message"]
        assert api.get("/_local/info").status_code == 200  # the controls are never limited
    finally:
        local_server.control("/_local/faults", {"rate_limit": None})
    assert api.get("/v1/devboxes").status_code == 200


def test_rate_limit_settings_are_checked(local_server: Any, api: httpx.Client) -> None:
    answer = api.post("/_local/faults", json={"rate_limit": -1})
    assert answer.status_code == 400 and "rate_limit" in answer.json()["message"]


def test_rate_limit_from_the_constructor_config(start_server: StartServer) -> None:
    server = start_server(rate_limit=0.1, rate_limit_burst=1)
    with client_for(server) as client:
        assert client.get("/v1/devboxes").status_code == 200
        assert client.get("/v1/devboxes").status_code == 429
        assert client.get("/_local/faults").json()["rate_limit"] == 0.1
