"""The lost-answer fault: the server carries a POST out, then drops the connection unanswered."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LocalServer


def test_lost_answer_acts_then_drops(local_server: LocalServer) -> None:
    local_server.control("/_local/faults", {"lost_answer_rate": 1.0})
    headers = {"Authorization": f"Bearer {local_server.token}"}
    with httpx.Client(base_url=local_server.url, headers=headers, timeout=60) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/devboxes", json={"name": "lost", "metadata": {"t": "1"}})
        local_server.control("/_local/faults", {"lost_answer_rate": 0.0})
        listed = client.get("/v1/devboxes").json()["devboxes"]
    assert [d["name"] for d in listed] == ["lost"]


def test_lost_answer_spares_reads(local_server: LocalServer) -> None:
    local_server.control("/_local/faults", {"lost_answer_rate": 1.0})
    headers = {"Authorization": f"Bearer {local_server.token}"}
    with httpx.Client(base_url=local_server.url, headers=headers, timeout=60) as client:
        assert client.get("/v1/devboxes").status_code == 200
