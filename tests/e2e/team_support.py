"""Helpers for the shared-lock tests: two "hosts" (separate working folders, so their lock
files cannot see each other) running the real `rlstate` against one local API and one
PostgreSQL lock backend."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apply_support import start, workdir
from pg_support import PgServer, running_server

from tests.helpers import rlstate

Event = dict[str, Any]


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    yield from running_server()


@pytest.fixture
def pg_url(pg: PgServer, request: pytest.FixtureRequest) -> str:
    """A fresh database for this test (history and locks start empty)."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return pg.new_database(name)


# A stack whose apply holds the lock for a while: its first setup command sleeps.
SLOW_STACK = """\
version: 1
stack: team
devboxes:
  slow:
    setup:
      - sleep {seconds}
      - echo done > /home/user/done
  quick: {{}}
"""


def hosts(tmp_path: Path, count: int = 2, sleep_s: int = 6) -> list[Path]:
    """Working folders of `count` hosts, each a copy of the example manifests plus team.yaml
    (whose apply sleeps `sleep_s` seconds in a setup command)."""
    folders = [workdir(tmp_path / f"host{i}") for i in range(count)]
    for folder in folders:
        (folder / "team.yaml").write_text(SLOW_STACK.format(seconds=sleep_s))
    return folders


def team(
    server: Any, work: Path, url: str, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return rlstate(server, work, *args, "--backend-url", url, timeout=timeout)


def team_start(server: Any, work: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return start(server, work, *args, "--backend-url", url)


def read_until(
    proc: subprocess.Popen[str], seen: list[Event], point: Callable[[Event], bool]
) -> None:
    """Reads the run's JSON events into `seen` until one matches `point`."""
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        seen.append(event)
        if point(event):
            return
    raise AssertionError(f"the run ended before the point: {seen[-3:]}")


def finish(proc: subprocess.Popen[str], seen: list[Event]) -> tuple[int, str]:
    """Waits for the run; its exit status and stderr (its events appended to `seen`)."""
    out, err = proc.communicate(timeout=240)
    seen.extend(json.loads(line) for line in out.splitlines() if line.startswith("{"))
    return proc.returncode, err


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def history(server: Any, work: Path, url: str, manifest: str) -> list[dict[str, Any]]:
    result = team(server, work, url, "history", manifest, "--json", "--limit", "50")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]
