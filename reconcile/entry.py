"""The console entry point: `rlstate validate` on a fast path, everything else through the CLI.

Cron and editors run validate often; building the typer app costs more than validating a
manifest, so a plain `validate [MANIFEST] [--json]` is parsed here without importing typer.
Anything else (help, unknown flags) goes through the full CLI, which owns the messages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _fast_validate(args: list[str]) -> int | None:
    """Run validate for simple arguments; None when the full CLI must handle them."""
    json_out = False
    paths: list[str] = []
    for arg in args:
        if arg == "--json":
            json_out = True
        elif arg.startswith("-"):
            return None
        else:
            paths.append(arg)
    if len(paths) > 1:
        return None
    from reconcile.commands import DEFAULT_MANIFEST, validate

    return validate.run(Path(paths[0]) if paths else DEFAULT_MANIFEST, json_out)


def _take_debug(argv: list[str]) -> list[str]:
    """`--debug` works anywhere before `--` (users add it after the command, as the errors say)."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" not in argv[:end]:
        return argv
    os.environ["RLSTATE_DEBUG"] = "1"
    return [arg for arg in argv[:end] if arg != "--debug"] + argv[end:]


def main() -> None:
    """`rlstate`: the fast validate path, or the typer app."""
    argv = _take_debug(sys.argv[1:])
    sys.argv[1:] = argv
    if argv[:1] == ["validate"]:
        code = _fast_validate(argv[1:])
        if code is not None:
            raise SystemExit(code)
    from reconcile.cli import main as cli_main

    cli_main()
