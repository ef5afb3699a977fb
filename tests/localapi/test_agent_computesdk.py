"""ComputeSDK's Runloop provider (`@computesdk/runloop`, pinned in tests/ts/) against `rlstate local
serve`, unchanged: it makes its own SDK client (HTTP/2) from RUNLOOP_BASE_URL and RUNLOOP_API_KEY,
and its sandbox (create, info, commands with cwd and env, filesystem, get, list, destroy),
snapshot and template calls all work; only its `getUrl` (a Runloop tunnel, cloud only) is refused
with a message. Installed and skipped as test_typescript_sdk.py is (ts_support.py)."""

from __future__ import annotations

from pathlib import Path

from h2_support import local_serve
from ts_support import run_script


def test_computesdk_runloop_provider_against_local_serve(ts_sdk: Path, tmp_path: Path) -> None:
    with local_serve(tmp_path / "data") as served:
        env = {"RUNLOOP_BASE_URL": served.url, "RUNLOOP_API_KEY": served.token}
        seen = run_script(ts_sdk, "computesdk_flow.mjs", env)

    assert seen["info"] == {"status": "running", "timeout": 1_800_000, "team": "agents"}
    assert seen["run"] == {"stdout": "hi csdk\n", "stderr": "bad\n", "exitCode": 4}
    assert seen["cwdEnv"] == "/tmp\ny z\n"
    assert seen["tail"] == [100, "99901", "100000"]  # it reads the execution view, as on Runloop
    assert (seen["read"], seen["exists"], seen["removed"]) == ("héllo\nworld\n", True, True)
    assert seen["readdir"] == [[".", "directory"], ["..", "directory"], ["f.txt", "file"]]
    assert seen["byId"] == seen["id"]
    assert seen["id"] in seen["listed"]
    assert seen["snapshots"] == [seen["snapshot"]]
    assert seen["templates"] == [seen["template"]]
    assert (seen["baked"], seen["restored"]) == ("baked\n", "kept")
    assert seen["url"].startswith("refused: ") and "tunnel" in seen["url"]
    assert (seen["after"], seen["templatesAfter"]) == ("shutdown", [])
    assert seen["facade"] == "facade\n"  # through computesdk's `compute`, as its README shows
    assert "Traceback" not in served.stderr
