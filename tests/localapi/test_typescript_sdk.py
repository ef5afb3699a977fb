"""The official TypeScript SDK (`@runloop/api-client`, pinned in tests/ts/) with its default options
(HTTP/2 without TLS on Node.js) against `rlstate local serve`. It is installed at test time into a
cache folder (never into the repository); skipped, with the reason, where node, npm or the npm
registry is not available."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from h2_support import REPO, local_serve

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
    """A folder with the pinned SDK in node_modules (npm ci once per lock file) and the script."""
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
    shutil.copy(TS_DIR / "sdk_flow.mjs", folder / "sdk_flow.mjs")  # resolves node_modules there
    return folder


def test_typescript_sdk_defaults_against_local_serve(ts_sdk: Path, tmp_path: Path) -> None:
    with local_serve(Path("data"), cwd=tmp_path) as served:  # a relative --data-dir, as typed
        env = {**os.environ, "RL_URL": served.url, "RL_TOKEN": served.token}
        done = subprocess.run(
            ["node", "sdk_flow.mjs"],
            cwd=ts_sdk,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    assert seen["status"] == "running"
    assert seen["exec"] == {"stdout": "hello\n", "exitCode": 0}
    assert (seen["shell"], seen["unnamed"]) == ("/tmp\nV=42\n", "/home/user\nV=\n")
    assert seen["read"] == "from ts"
    assert (seen["snapshot"], seen["restored"]) == ("complete", "from ts")
    assert seen["object"] == "object body"
    assert (seen["listed"], seen["unique"], seen["pages"], seen["iterated"]) == (7, 7, 3, 7)
    assert "Invalid HTTP request" not in served.stderr
    assert "Traceback" not in served.stderr
