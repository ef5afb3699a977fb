"""The npm packages pinned in tests/ts/ (the official TypeScript SDK, ComputeSDK's Runloop
provider) installed once per lock file into a cache folder, never into the repository; a test using
the fixture skips, saying why, where node, npm or the npm registry is not available."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from h2_support import REPO

TS_DIR = REPO / "tests" / "ts"


def _cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rlstate-tests"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return tmp_path_factory.mktemp("ts-sdk")
    return root


@pytest.fixture(scope="session")
def ts_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with tests/ts/'s pinned packages in node_modules (npm ci once per lock file) and
    its scripts."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the TypeScript SDK")
    lock = (TS_DIR / "package-lock.json").read_bytes()
    folder = _cache_root(tmp_path_factory) / f"ts-sdk-{hashlib.sha256(lock).hexdigest()[:12]}"
    if not (folder / "node_modules" / "@runloop" / "api-client" / "package.json").exists():
        staging = folder.with_name(f"{folder.name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(TS_DIR / name, staging / name)
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=staging,
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci of the TypeScript SDK took over 10 minutes (registry reachable?)")
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            pytest.skip(f"npm could not install the TypeScript SDK: {reason}")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    for script in TS_DIR.glob("*.mjs"):  # run from there, they resolve its node_modules
        shutil.copy(script, folder / script.name)
    return folder


def run_script(folder: Path, script: str, env: dict[str, str]) -> Any:
    """Runs one of tests/ts/'s scripts with node from `folder` (the ts_sdk fixture) and the
    environment plus `env`; what it printed last, as JSON (a failed run fails the test)."""
    done = subprocess.run(
        ["node", script],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
