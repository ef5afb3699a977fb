"""`rlstate validate` and `rlstate schema` as a user runs them: real subprocesses, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydantic_core
import pytest

from reconcile.commands import validate
from reconcile.manifest import manifest_json_schema
from reconcile.manifest.schema_check import stored_is_current
from tests.helpers import REPO, rlstate_env, run_rlstate

INVALID = REPO / "tests/data/invalid"
# Modules that validate must never load: the HTTP client, the renderer, the differ, our API layer.
HEAVY = (
    *("httpx", "rich", "deepdiff", "psycopg"),
    *("reconcile.api", "reconcile.apply", "reconcile.localapi", "reconcile.lockbackend"),
)
# Checking needs pydantic-core only: the console entry's validate builds no models and imports
# no pydantic (through the typer app, typer itself imports pydantic to convert arguments).
MODELS = ("pydantic", "reconcile.manifest.schema", "importlib.metadata")


def rlstate(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_rlstate(args, cwd=cwd, env=rlstate_env(env, drop=["CI_TOKEN"]), timeout=60)


@pytest.mark.parametrize(
    ("manifest", "summary"),
    [
        ("manifests/quickstart.yaml", "stack quickstart: 1 devbox, 0 objects, 0 snapshot series"),
        ("manifests/combined.yaml", "stack combined: 2 devboxes, 2 objects, 1 snapshot series"),
        (
            "tests/data/valid/spec-example.yaml",
            "stack demo: 2 devboxes, 1 object, 1 snapshot series",
        ),
    ],
    ids=["quickstart", "combined", "spec-example"],
)
def test_a_valid_manifest_prints_one_line_and_exits_0(manifest: str, summary: str) -> None:
    result = rlstate("validate", manifest, env={"CI_TOKEN": "ci-token-not-secret"})
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"{manifest}: valid ({summary})\n",
        "",
    )


@pytest.mark.parametrize("case", ["08-unknown-devbox-field", "50-not-utf8", "63-many-problems"])
def test_an_invalid_manifest_prints_its_problems_to_stderr_and_exits_1(case: str) -> None:
    manifest = f"tests/data/invalid/{case}.yaml"
    result = rlstate("validate", manifest)
    expected = [
        f"{manifest}:{line}" for line in (INVALID / f"{case}.expected").read_text().splitlines()
    ]
    count = len(expected)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        *expected,
        f"{manifest}: invalid ({count} problem{'s' if count > 1 else ''})",
    ]


def test_an_unset_variable_is_a_problem_not_a_crash() -> None:
    result = rlstate("validate", "tests/data/valid/spec-example.yaml")
    assert result.returncode == 1
    assert "devboxes.builder.env.TOKEN: environment variable CI_TOKEN is not set" in result.stderr


def test_a_missing_manifest_is_one_clean_line(tmp_path: Path) -> None:
    result = rlstate("validate", "nope.yaml", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "error: nope.yaml: no such file\n",
    )


def test_the_manifest_defaults_to_rlstate_yaml_here(tmp_path: Path) -> None:
    (tmp_path / "rlstate.yaml").write_text("version: 1\nstack: here\n", encoding="utf-8")
    result = rlstate("validate", cwd=tmp_path)
    assert (
        result.stdout
        == "rlstate.yaml: valid (stack here: 0 devboxes, 0 objects, 0 snapshot series)\n"
    )


def test_secrets_from_the_environment_are_never_printed(tmp_path: Path) -> None:
    (tmp_path / "rlstate.yaml").write_text(
        'version: 1\nstack: s\ndevboxes:\n  a:\n    env: {T: "${env:CI_TOKEN}"}\n    bogus: 1\n',
        encoding="utf-8",
    )
    result = rlstate("validate", cwd=tmp_path, env={"CI_TOKEN": "do-not-print-me"})
    assert result.returncode == 1
    assert "do-not-print-me" not in result.stdout + result.stderr


PROBE = """
import sys
connections = []
sys.addaudithook(lambda event, args: event == "socket.connect" and connections.append(args))
sys.argv = ["rlstate", "validate", sys.argv[1]]
from {entry} import main
try:
    main()
except SystemExit as exit:
    code = exit.code
heavy = [m for m in {heavy!r} if m in sys.modules]
print(code, heavy, len(connections), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("entry", "heavy"),
    [("reconcile.entry", HEAVY + MODELS), ("reconcile.cli", HEAVY)],
    ids=["rlstate", "typer-app"],
)
@pytest.mark.parametrize(
    "manifest",
    ["manifests/combined.yaml", "tests/data/invalid/63-many-problems.yaml"],
    ids=["valid", "invalid"],
)
def test_validate_imports_nothing_heavy_and_opens_no_connection(
    manifest: str, entry: str, heavy: tuple[str, ...]
) -> None:
    if MODELS[0] in heavy and not stored_is_current():
        pytest.skip(
            f"core_schema.json is not for the installed pydantic-core {pydantic_core.__version__}:"
            " validate checks with the models (slower) until it is refreshed with"
            " RLSTATE_UPDATE_GOLDEN=1 (tests/unit/test_manifest_core_schema.py)"
        )
    script = PROBE.format(entry=entry, heavy=heavy)
    result = subprocess.run(
        [sys.executable, "-c", script, manifest],
        cwd=REPO,
        env=rlstate_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    code = 0 if manifest.startswith("manifests/") else 1
    assert result.stderr.splitlines()[-1] == f"{code} [] 0"


def test_schema_prints_the_json_schema() -> None:
    result = rlstate("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == manifest_json_schema()


def test_json_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.run(INVALID / "08-unknown-devbox-field.yaml", json_out=True) == 1
    invalid = json.loads(capsys.readouterr().out)
    assert invalid["valid"] is False
    assert invalid["problems"] == [
        {
            "line": 6,
            "column": 5,
            "path": "devboxes.builder.keep_alve",
            "message": "unknown field 'keep_alve' (did you mean 'keep_alive'?)",
        }
    ]
    assert validate.run(REPO / "manifests/retention.yaml", json_out=True) == 0
    valid = json.loads(capsys.readouterr().out)
    assert (valid["valid"], valid["stack"], valid["devboxes"], valid["snapshot_series"]) == (
        True,
        "retention",
        1,
        1,
    )
