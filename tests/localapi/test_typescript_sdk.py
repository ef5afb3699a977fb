"""The official TypeScript SDK (`@runloop/api-client`, pinned in tests/ts/) with its default options
(HTTP/2 without TLS on Node.js) against `rlstate local serve`. It is installed at test time into a
cache folder (never into the repository, see ts_support.py); skipped, with the reason, where node,
npm or the npm registry is not available."""

from __future__ import annotations

from pathlib import Path

from h2_support import local_serve
from ts_support import run_script


def test_typescript_sdk_defaults_against_local_serve(ts_sdk: Path, tmp_path: Path) -> None:
    with local_serve(Path("data"), cwd=tmp_path) as served:  # a relative --data-dir, as typed
        seen = run_script(ts_sdk, "sdk_flow.mjs", {"RL_URL": served.url, "RL_TOKEN": served.token})

    assert seen["status"] == "running"
    assert seen["exec"] == {"stdout": "hello\n", "exitCode": 0}
    assert (seen["shell"], seen["unnamed"]) == ("/tmp\nV=42\n", "/home/user\nV=\n")
    assert seen["read"] == "from ts"
    assert (seen["snapshot"], seen["restored"]) == ("complete", "from ts")
    assert seen["object"] == "object body"
    assert (seen["listed"], seen["unique"], seen["pages"], seen["iterated"]) == (7, 7, 3, 7)
    assert "Invalid HTTP request" not in served.stderr
    assert "Traceback" not in served.stderr
