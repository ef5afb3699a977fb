"""How the CLI says an error: one line on stderr (a traceback with --debug) and the exit status.

Imported by reconcile.cli only once something went wrong, so a clean run never loads it. It
catches nothing and runs no command: reconcile.cli decides which of these an error gets.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from reconcile.errors import UserError


def fail(error: BaseException, debug: bool) -> NoReturn:
    """Print one clear message for an error we expected, and exit 1 (traceback with --debug)."""
    if debug:
        import traceback

        traceback.print_exception(error)
    message = str(error) or type(error).__name__
    prefix = "" if isinstance(error, UserError) and "\n" in message else "error: "
    sys.stderr.write(f"{prefix}{message}\n")
    raise SystemExit(1)


def usage_error(error: Exception, no_args: type[Exception]) -> NoReturn:
    """A wrong command line: one line and exit 1 (2 means "changes" to plan --detailed-exitcode).

    No command at all (`rlstate`, `rlstate local`) prints the help instead, and exits 0."""
    ctx = getattr(error, "ctx", None)
    if isinstance(error, no_args) and ctx is not None:
        sys.stdout.write(ctx.get_help() + "\n")
        raise SystemExit(0)
    command = ctx.command_path if ctx is not None else "rlstate"
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    sys.stderr.write(f"error: {message.rstrip('.')} (see `{command} --help`)\n")
    raise SystemExit(1)


def os_error(error: OSError, debug: bool) -> NoReturn:
    """A file or folder rlstate needed could not be used: name it, in one line."""
    if debug:
        import traceback

        traceback.print_exception(error)
    names = [str(n) for n in (error.filename, error.filename2) if n is not None]
    where = " -> ".join(names)
    reason = error.strerror or str(error)
    sys.stderr.write(f"error: {where}: {reason}\n" if where else f"error: {reason}\n")
    raise SystemExit(1)
