"""Running the real `rlstate` in a subprocess, as a user or a cron job would: the command line,
the environment it runs in (this checkout, no API settings from the caller's shell), and runs to
the end or in the background; the official SDK on the same API (to check what a run did, as a
user would); and the one switch that rewrites golden files. No fixtures and no
assertions here; callers check what came out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from runloop_api_client import Runloop

REPO = Path(__file__).resolve().parents[1]
# Set to 1, golden-file tests write what they got instead of comparing (then read the diff).
GOLDEN_VARIABLE = "RLSTATE_UPDATE_GOLDEN"


def a_fifth_failing(
    seed: int, *, lost_answer_rate: float = 0.05, retry_after: float = 0.05
) -> dict[str, object]:
    """The local server's faults (POST /_local/faults) that fail about a fifth of the answers
    every way at once: errors (429, 500, 503), dropped connections and lost answers."""
    return {
        "rate": 0.2,
        "statuses": [429, 500, 503],
        "drop_rate": 0.05,
        "lost_answer_rate": lost_answer_rate,
        "retry_after": retry_after,
        "seed": seed,
    }


def updating_goldens() -> bool:
    """Whether this run rewrites golden files (RLSTATE_UPDATE_GOLDEN=1) instead of checking them."""
    return os.environ.get(GOLDEN_VARIABLE) == "1"


class Endpoint(Protocol):
    """An API to point `rlstate` at: the local server fixture, a chaos run's `Api`, a proxy."""

    @property
    def url(self) -> str: ...

    @property
    def token(self) -> str: ...


@dataclass(frozen=True)
class ApiAt:
    """An endpoint given by its parts (a recording proxy's URL and the server's token)."""

    url: str
    token: str


def rlstate_env(
    extra: Mapping[str, str] | None = None, *, drop: Sequence[str] = ()
) -> dict[str, str]:
    """This process's environment without RUNLOOP_/RLSTATE_ settings (nor the names in `drop`),
    with this checkout importable, then `extra` on top."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RUNLOOP_", "RLSTATE_")) and k not in drop
    }
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


def rlstate_argv(
    args: Sequence[str], *, api: Endpoint | None = None, key: str | None = None
) -> list[str]:
    """`python -m reconcile ARGS`, with `--api-url/--api-key` of `api` when given (`key`, when
    given, replaces the API's own token)."""
    argv = [sys.executable, "-m", "reconcile", *args]
    if api is not None:
        argv += ["--api-url", api.url, "--api-key", key or api.token]
    return argv


def run_rlstate(
    args: Sequence[str],
    *,
    cwd: Path,
    api: Endpoint | None = None,
    key: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs `rlstate ARGS` to its end and captures its output; stdin is not a terminal (empty,
    or `input`). `env` defaults to `rlstate_env()`."""
    return subprocess.run(
        rlstate_argv(args, api=api, key=key),
        cwd=cwd,
        env=dict(env) if env is not None else rlstate_env(),
        stdin=subprocess.DEVNULL if input is None else None,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_rlstate(
    args: Sequence[str],
    *,
    cwd: Path,
    api: Endpoint | None = None,
    key: str | None = None,
    env: Mapping[str, str] | None = None,
    stderr: int | IO[str] = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """Starts `rlstate ARGS` in the background, its stdout readable line by line."""
    return subprocess.Popen(
        rlstate_argv(args, api=api, key=key),
        cwd=cwd,
        env=dict(env) if env is not None else rlstate_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def rlstate(
    api: Endpoint, cwd: Path, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`rlstate ARGS --api-url --api-key` against `api`, to its end: what most end-to-end tests
    call."""
    return run_rlstate(args, cwd=cwd, api=api, timeout=timeout)


def sdk(api: Endpoint, retries: int = 5) -> Runloop:
    """The official Runloop SDK pointed at `api`."""
    from runloop_api_client import Runloop

    return Runloop(base_url=api.url, bearer_token=api.token, max_retries=retries)
