"""Bad lock-backend settings fail in one line naming the setting (never the password), exit 1,
and before any Runloop API call: an unreachable server, a wrong password, missing grants, a
URL that is not PostgreSQL, unknown fields in `backend:`, an unset variable, no psycopg."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import team_support
from pg_support import NO_GRANTS, NO_GRANTS_PASSWORD, ROLE_PASSWORD, PgServer

from reconcile.lockbackend.postgres import PgBackend
from reconcile.lockbackend.settings import BackendChoice
from tests.helpers import rlstate_env

pg = team_support.pg
NOWHERE_API = "http://127.0.0.1:9"  # nothing listens: a call would fail with the API's error

# Runs the CLI in-process, counting the sockets Python connects (the API client's; libpq's
# own connections to PostgreSQL are not Python sockets).
PROBE = """
import sys
connects = []
sys.addaudithook(lambda event, args: event == "socket.connect" and connects.append(args))
{prelude}
sys.argv = ["rlstate", *sys.argv[1:]]
from reconcile.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
print("probe:", code, len(connects), file=sys.stderr)
"""
MANIFEST = """\
version: 1
stack: bad-input
{backend}devboxes:
  box: {{}}
"""


def _run(
    work: Path, *args: str, env: dict[str, str] | None = None, prelude: str = ""
) -> tuple[int, int, list[str]]:
    """Exit code, API connections made, and the other stderr lines of `rlstate ARGS`."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(prelude=prelude), *args],
        cwd=work,
        env=rlstate_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("probe: "), result.stderr
    _, code, connects = lines[-1].split()
    return int(code), int(connects), lines[:-1]


def _apply(work: Path, *args: str, **kw: object) -> tuple[int, int, list[str]]:
    api = ("--api-url", NOWHERE_API, "--api-key", "not-a-real-key")
    return _run(work, "apply", "rlstate.yaml", "--yes", *args, *api, **kw)  # type: ignore[arg-type]


def _work(tmp_path: Path, backend: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "rlstate.yaml").write_text(MANIFEST.format(backend=backend))
    return tmp_path


def _cases(pg: PgServer) -> dict[str, tuple[str, str]]:
    """name → (--backend-url, what the one line says)."""
    url = pg.url()
    return {
        "unreachable": (url.replace(f":{pg.port}/", ":1/"), "cannot connect"),
        "wrong-password": (url.replace(ROLE_PASSWORD, "not-the-pw"), "password authentication"),
        "no-grants": (pg.url(NO_GRANTS, NO_GRANTS_PASSWORD), "permission denied"),
        "not-postgres": ("mysql://rl:not-the-pw@127.0.0.1/rl", "is not a PostgreSQL URL"),
        "not-a-url": ("db.internal/rlstate", "not a URL"),
    }


@pytest.mark.parametrize(
    "case", ["unreachable", "wrong-password", "no-grants", "not-postgres", "not-a-url"]
)
def test_a_bad_backend_url_fails_in_one_line_before_any_api_call(
    tmp_path: Path, pg: PgServer, case: str
) -> None:
    url, says = _cases(pg)[case]
    work = _work(tmp_path)
    code, connects, lines = _apply(work, "--backend-url", url)

    assert (code, connects) == (1, 0), lines
    named = ("error: --backend-url: ", "error: lock backend --backend-url (postgresql://")
    assert len(lines) == 1 and lines[0].startswith(named), lines
    assert says in lines[0]
    assert "not-the-pw" not in lines[0] and ROLE_PASSWORD not in lines[0]
    assert "NO_GRANTS_PASSWORD" not in lines[0] and NO_GRANTS_PASSWORD not in lines[0]


def test_a_role_without_grants_is_refused_also_once_the_tables_exist(
    tmp_path: Path, pg: PgServer
) -> None:
    PgBackend(BackendChoice(url=pg.url(), source="test")).close()  # creates the tables
    work = _work(tmp_path)
    for command in (("apply", "rlstate.yaml", "--yes"), ("history", "rlstate.yaml")):
        code, connects, lines = _run(
            work, *command, "--backend-url", pg.url(NO_GRANTS, NO_GRANTS_PASSWORD)
        )
        assert (code, connects) == (1, 0), lines
        assert len(lines) == 1 and "permission denied for table rlstate_" in lines[0], lines
        assert "grant" in lines[0] and NO_GRANTS_PASSWORD not in lines[0]


def test_the_manifest_backend_block_is_checked_and_read_from_the_environment(
    tmp_path: Path, pg: PgServer
) -> None:
    unknown = _work(tmp_path / "a", "backend:\n  postgres:\n    url: x\n    pasword: y\n")
    code, connects, lines = _apply(unknown)
    assert (code, connects) == (1, 0)
    assert lines == [
        "rlstate.yaml:6:5: backend.postgres.pasword: unknown field 'pasword' (did you mean 'url'?)"
    ] or (len(lines) == 1 and "backend.postgres.pasword" in lines[0]), lines

    templated = _work(tmp_path / "b", "backend:\n  postgres: {url: '${env:TEAM_PG_URL}'}\n")
    code, connects, lines = _apply(templated)
    assert (code, connects) == (1, 0)
    assert lines == [
        f"error: backend.postgres.url in {templated / 'rlstate.yaml'}: "
        "environment variable TEAM_PG_URL is not set"
    ]
    wrong = pg.url().replace(ROLE_PASSWORD, "not-the-pw")
    code, connects, lines = _apply(templated, env={"TEAM_PG_URL": wrong})
    assert (code, connects) == (1, 0)
    assert len(lines) == 1 and lines[0].startswith("error: lock backend backend.postgres.url in ")
    assert "password authentication failed" in lines[0] and "not-the-pw" not in lines[0]


def test_without_psycopg_the_cli_says_how_to_install_it(tmp_path: Path, pg: PgServer) -> None:
    work = _work(tmp_path)
    no_driver = "sys.modules['psycopg'] = None"
    code, connects, lines = _apply(work, "--backend-url", pg.url(), prelude=no_driver)
    assert (code, connects) == (1, 0)
    assert len(lines) == 1 and "pip install 'rlstate[postgres]'" in lines[0], lines
