"""Fixtures for the local server's tests: SDK and HTTP clients on the shared server, private servers
(own data dir, own config) for restart and config tests, and the npm packages of tests/ts/."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conformance_support import load_spec
from openapi_core import OpenAPI
from runloop_api_client import Runloop
from ts_support import ts_sdk  # noqa: F401  (a fixture for the npm packages of tests/ts/)

from reconcile.localapi import LocalConfig, RunningServer, start_in_thread
from tests.conftest import shared_path


@pytest.fixture
def api(local_server: Any) -> Iterator[httpx.Client]:
    """A plain HTTP client with the token, for status codes, headers and raw bodies."""
    headers = {"Authorization": f"Bearer {local_server.token}"}
    with httpx.Client(base_url=local_server.url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
def sdk(local_server: Any) -> Iterator[Runloop]:
    """The official SDK pointed at the local server (default retries)."""
    client = Runloop(base_url=local_server.url, bearer_token=local_server.token)
    yield client
    client.close()


@pytest.fixture
def sdk_no_retry(sdk: Runloop) -> Runloop:
    return sdk.with_options(max_retries=0)


StartServer = Callable[..., RunningServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start a private server (default: its own data dir under tmp_path); all are stopped after."""
    running: list[RunningServer] = []

    def start(data_dir: Path | None = None, **settings: Any) -> RunningServer:
        settings.setdefault("transition_seconds", 0.02)
        config = LocalConfig(data_dir=data_dir or tmp_path / "data", port=0, **settings)
        server = start_in_thread(config)
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture(scope="session")
def spec() -> OpenAPI:
    """Runloop's OpenAPI description (skips where the reference documents are absent)."""
    return load_spec(shared_path("runloop-openapi", "runloop-api-openapi.yml"))


@pytest.fixture(autouse=True)
def _quiet_arazzo_runner() -> None:
    logging.getLogger("arazzo-runner").setLevel(logging.WARNING)
    logging.getLogger("arazzo_runner").setLevel(logging.CRITICAL)  # "no credential" for bearerAuth
