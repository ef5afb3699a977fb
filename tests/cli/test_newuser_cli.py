"""Mistakes a new user makes on the command line: one clear line on stderr and exit 1, never a
traceback, never exit 2 (which `plan --detailed-exitcode` uses for "changes"); the key never shown.

Real subprocesses and real files; where an API is needed, the real local backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconcile.commands.connection import ConnectionSettings, connect
from reconcile.errors import ApiConnectionError
from tests.helpers import REPO, rlstate_env, run_rlstate

QUICKSTART = REPO / "manifests" / "quickstart.yaml"
MANIFEST = "version: 1\nstack: newuser\ndevboxes:\n  box:\n    keep_alive: 1h\n"


def rlstate(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """`rlstate ARGS` with the embedded backend's data in cwd/local unless `env` says otherwise."""
    environ = rlstate_env({"RLSTATE_LOCAL_DIR": str(cwd / "local")} | (env or {}))
    return run_rlstate(args, cwd=cwd, env=environ, timeout=120)


def one_error_line(result: Any) -> str:
    """The single `error: ...` line a failed command printed (exit 1, nothing else on stderr)."""
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("rlstate: no API")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["plan", "m.yaml", "--bogus"], "No such option: --bogus"),
        (["plan", "m.yaml", "--detailed-exitcod"], "No such option: --detailed-exitcod"),
        (["apply", "m.yaml", "--parallelism", "0"], "'--parallelism' / '-p'"),
        (["apply", "m.yaml", "-p", "abc"], "'--parallelism' / '-p'"),
        (["validate", "a.yaml", "b.yaml"], "unexpected extra argument"),
        (["bogus"], "No such command 'bogus'"),
        (["local", "serve", "--port", "99999"], "'--port'"),
        (["plan", "m.yaml", "--target"], "'--target' requires an argument"),
        (["plan", "m.yaml", "--api-url", "http://"], "--api-url 'http://' has no host"),
        (["plan", "m.yaml", "--api-url", "http://h:99999"], "is not a valid URL: Port out"),
        (["plan", "m.yaml", "--api-url", "ftp://h"], "must start with http:// or https://"),
        (["retain", "m.yaml", "--simulate", "90x"], "--simulate: bad duration '90x'"),
        (["retain", "m.yaml", "--simulate", "3651d"], "--simulate: at most 3650d (got 3651d)"),
        (["check", "m.yaml", "--max-age", "1hr"], "--max-age: bad duration '1hr'"),
        (["generate", "--status", "runing"], "--status 'runing': not a devbox status"),
    ],
    ids=[
        "unknown-flag",
        "typo-in-detailed-exitcode",
        "parallelism-0",
        "parallelism-not-a-number",
        "two-manifests",
        "unknown-command",
        "port-out-of-range",
        "flag-without-value",
        "url-without-host",
        "url-port-out-of-range",
        "url-not-http",
        "simulate-bad-duration",
        "simulate-beyond-ten-years",
        "max-age-bad-duration",
        "generate-unknown-status",
    ],
)
def test_a_wrong_command_line_is_one_line_and_exit_1(
    tmp_path: Path, args: list[str], says: str
) -> None:
    assert says in one_error_line(rlstate(*args, cwd=tmp_path))


@pytest.mark.parametrize("args", [[], ["local"]], ids=["rlstate", "rlstate-local"])
def test_no_command_prints_the_help_and_exits_0(tmp_path: Path, args: list[str]) -> None:
    result = rlstate(*args, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Usage: ") and "Commands:" in result.stdout


def test_parallelism_has_the_short_flag_the_readme_uses(tmp_path: Path) -> None:
    result = rlstate("apply", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "-p, --parallelism" in result.stdout


def test_debug_after_the_command_shows_the_traceback(tmp_path: Path) -> None:
    result = rlstate("plan", "missing.yaml", "--debug", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "no such manifest" in result.stderr


@pytest.mark.parametrize("command", ["plan", "status", "destroy", "retain", "apply"])
def test_a_folder_given_as_manifest_is_named(tmp_path: Path, command: str) -> None:
    (tmp_path / "stack").mkdir()
    line = one_error_line(rlstate(command, "stack", cwd=tmp_path))
    assert line == "error: stack: is a directory, not a manifest file"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"format_version": 1, "stack": "x", "act', "cut short or damaged"),
        ("{}", "not a saved plan"),
        ("[1, 2]", "not a saved plan"),
        ('{"format_version": 99}', "format_version 99"),
    ],
    ids=["truncated", "empty-object", "a-list", "future-format"],
)
def test_a_bad_plan_file_is_named(tmp_path: Path, content: str, says: str) -> None:
    (tmp_path / "p.json").write_text(content)
    line = one_error_line(rlstate("apply", "p.json", "--yes", cwd=tmp_path))
    assert line.startswith("error: p.json: ") and says in line


def test_a_plan_saved_under_any_name_applies(tmp_path: Path, local_server: Any) -> None:
    """`plan --out FILE` prints `rlstate apply FILE`; that must apply it, not read it as YAML."""
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    flags = ["--api-url", local_server.url, "--api-key", local_server.token]
    planned = rlstate("plan", "--out", "tonight.plan", *flags, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "run `rlstate apply tonight.plan`" in planned.stdout
    applied = rlstate("apply", "tonight.plan", *flags, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "devbox.box has been created" in applied.stdout
    assert local_server.token not in planned.stdout + planned.stderr + applied.stdout


def test_plan_out_a_folder_says_so_and_leaves_no_temp_file(
    tmp_path: Path, local_server: Any
) -> None:
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    (tmp_path / "plans").mkdir()
    flags = ["--api-url", local_server.url, "--api-key", local_server.token]
    line = one_error_line(rlstate("plan", "--out", "plans", *flags, cwd=tmp_path))
    assert "cannot save the plan to plans: it is a folder" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plans", "rlstate.yaml"]
    assert list((tmp_path / "plans").iterdir()) == []


def test_a_local_data_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    (tmp_path / "data").write_text("not a folder")
    result = rlstate("plan", cwd=tmp_path, env={"RLSTATE_LOCAL_DIR": str(tmp_path / "data")})
    assert "as the local backend's data folder: it is a file" in one_error_line(result)


def test_local_serve_on_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    result = rlstate("local", "serve", "--port", "0", "--data-dir", "data", cwd=tmp_path)
    assert one_error_line(result) == (
        "error: cannot use data as the data folder (--data-dir): it is a file"
    )


@pytest.mark.parametrize("command", ["apply", "retain"])
def test_an_unwritable_lock_folder_is_named(
    tmp_path: Path, local_server: Any, command: str
) -> None:
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    (tmp_path / ".rlstate").write_text("a file where the lock folder goes")
    flags = ["--api-url", local_server.url, "--api-key", local_server.token, "--json"]
    extra = "--yes" if command == "apply" else "--dry-run"
    result = rlstate(command, "rlstate.yaml", extra, *flags, cwd=tmp_path)
    line = one_error_line(result)
    assert "cannot take the stack lock in" in line and "must be writable" in line
    if command == "retain":  # --json still ends with its summary
        summary = json.loads(result.stdout.splitlines()[-1])
        assert summary["result"] == "error" and "stack lock" in summary["error"]


def test_a_refused_local_token_says_where_it_came_from(tmp_path: Path, local_server: Any) -> None:
    """`--api-url` to a `local serve` without a key sends the token of --local-dir's backend."""
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    other = tmp_path / "other"
    other.mkdir()
    (other / "token").write_text("rlocal_a_token_of_another_server")
    result = rlstate("plan", "--api-url", local_server.url, "--local-dir", "other", cwd=tmp_path)
    line = one_error_line(result)
    assert "(401)" in line and "refused the token in other" in line and "--local-dir DIR" in line
    assert "rlocal_a_token_of_another_server" not in result.stdout + result.stderr


def test_a_connection_failure_names_the_url() -> None:
    settings = ConnectionSettings.from_flags(
        api_url="http://127.0.0.1:9", api_key="k-not-shown", local_dir=None
    )
    with pytest.raises(ApiConnectionError) as raised, connect(settings):
        raise ApiConnectionError("cannot connect to the API", method="GET", path="/v1/objects")
    assert "is the API at http://127.0.0.1:9 up?" in str(raised.value)
    assert "k-not-shown" not in str(raised.value)


def test_a_target_that_names_nothing_is_refused(tmp_path: Path, local_server: Any) -> None:
    """A typo in --target must not read as "No changes." (and apply nothing)."""
    (tmp_path / "rlstate.yaml").write_text(MANIFEST)
    flags = ["--api-url", local_server.url, "--api-key", local_server.token]
    line = one_error_line(
        rlstate("apply", "rlstate.yaml", "--yes", "--target", "devbox.bxo", *flags, cwd=tmp_path)
    )
    assert line == (
        "error: --target 'devbox.bxo' names nothing in the manifest or the plan "
        "(did you mean 'devbox.box'?)"
    )
    planned = rlstate("plan", "--target", "box", *flags, cwd=tmp_path)
    assert planned.returncode == 0 and "+ create devbox.box" in planned.stdout, planned.stderr


def test_undelete_takes_the_series_address_as_printed(tmp_path: Path, local_server: Any) -> None:
    """Every output names a series `snapshot.NAME`; undelete takes that spelling too."""
    manifest = (
        MANIFEST + "snapshots:\n  nightly: {devbox: box, keep: {last: 1}, prune: {grace: 1d}}\n"
    )
    (tmp_path / "rlstate.yaml").write_text(manifest)
    flags = ["--api-url", local_server.url, "--api-key", local_server.token]
    result = rlstate("undelete", "snapshot.nightly", "--all", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Undeleted 0 snapshots of snapshot.nightly.\n"
