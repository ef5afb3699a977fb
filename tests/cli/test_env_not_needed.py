"""Commands that send no env value (retain, destroy, status) run without the manifest's secrets.

A nightly cron job has no secrets in its environment; plan and apply, which send the values,
still refuse to run without them, naming the variable; status says which env it could not
compare instead of reporting drift. Real subprocesses, real local backend.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.helpers import rlstate_env, run_rlstate

SECRET = "s3cr3t-value-for-the-test"
MANIFEST = """version: 1
stack: needs-secret
devboxes:
  app:
    env:
      TOKEN: ${env:APP_TOKEN}
    setup:
      - test "$TOKEN" = s3cr3t-value-for-the-test
snapshots:
  nightly:
    devbox: app
    every: 24h
    keep: {last: 2}
"""


def rlstate(server: Any, cwd: Path, *args: str, secret: bool) -> subprocess.CompletedProcess[str]:
    """`rlstate ARGS` against the test server, with or without APP_TOKEN in its environment."""
    env = rlstate_env({"APP_TOKEN": SECRET} if secret else None, drop=["APP_TOKEN"])
    result = run_rlstate(args, cwd=cwd, api=server, env=env)
    assert SECRET not in result.stdout + result.stderr
    return result


def test_retain_and_destroy_run_without_the_secret_plan_and_apply_do_not(
    local_server: Any, tmp_path: Path
) -> None:
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    applied = rlstate(local_server, tmp_path, "apply", "rlstate.yaml", "--yes", secret=True)
    assert applied.returncode == 0, applied.stderr

    for command in (("plan",), ("apply", "rlstate.yaml", "--yes")):
        refused = rlstate(local_server, tmp_path, *command, secret=False)
        assert refused.returncode == 1
        assert "devboxes.app.env.TOKEN" in refused.stderr
        assert "environment variable APP_TOKEN is not set" in refused.stderr

    status = rlstate(local_server, tmp_path, "status", secret=False)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("Stack needs-secret: in sync")
    app = next(line for line in status.stdout.splitlines() if "devbox.app " in line)
    assert "(env not compared: APP_TOKEN not set)" in app and "drift" not in app

    retained = rlstate(local_server, tmp_path, "retain", "--json", secret=False)
    assert retained.returncode == 0, retained.stderr
    assert '"event": "summary"' in retained.stdout

    destroyed = rlstate(local_server, tmp_path, "destroy", "--yes", secret=False)
    assert destroyed.returncode == 0, destroyed.stderr
    listed = local_server.control("/v1/devboxes", None)["devboxes"]
    assert isinstance(listed, list)
    assert [d["status"] for d in listed if d["status"] != "shutdown"] == []


def test_a_load_that_needs_no_values_keeps_unset_templates_and_still_reads_set_ones(
    tmp_path: Path,
) -> None:
    from reconcile.manifest import load_manifest

    path = tmp_path / "rlstate.yaml"
    path.write_text(MANIFEST.replace("TOKEN: ${env:APP_TOKEN}", "TOKEN: ${env:APP_TOKEN}-${env:B}"))
    loaded = load_manifest(path, {"B": "two"}, need_env=False)
    assert loaded.resolve("${env:APP_TOKEN}-${env:B}") == "${env:APP_TOKEN}-two"
    assert "devboxes.app.env.TOKEN" in loaded.sensitive
    strict = load_manifest(path, {"APP_TOKEN": "one", "B": "two"})
    assert strict.resolve("${env:APP_TOKEN}-${env:B}") == "one-two"
