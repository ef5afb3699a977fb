"""Shared fixtures: a real local backend on a loopback port, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file of the project's reference documents; skips the test where they are absent."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference documents not available here ({path.name} is absent)")
    return path


@dataclass
class LocalServer:
    """A running local backend: its URL, token and a client for its /_local/ controls."""

    url: str
    token: str
    data_dir: Path

    def control(self, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as c:
            resp = c.post(path, json=body or {}) if body is not None else c.get(path)
            resp.raise_for_status()
            data: dict[str, object] = resp.json() if resp.content else {}
            return data

    def reset(self) -> None:
        self.control("/_local/reset", {})
        self.control(
            "/_local/faults",
            {
                "rate": 0.0,
                "drop_rate": 0.0,
                "lost_answer_rate": 0.0,
                "latency_ms": 0,
                "snapshot_error_rate": 0.0,
                "rate_limit": None,
            },
        )
        self.control("/_local/clock", {"offset_seconds": 0})


@pytest.fixture(scope="session")
def local_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    from reconcile.localapi import LocalConfig, start_in_thread

    data_dir = tmp_path_factory.mktemp("localapi-data")
    config = LocalConfig(
        data_dir=data_dir, port=0, token="test-token-not-secret", transition_seconds=0.05
    )
    server = start_in_thread(config)
    try:
        yield LocalServer(url=server.url, token=server.token, data_dir=data_dir)
    finally:
        server.stop()


@pytest.fixture
def local_server(local_server_session: LocalServer) -> LocalServer:
    """The session's local backend, reset to empty with faults off and the clock at zero."""
    local_server_session.reset()
    return local_server_session
