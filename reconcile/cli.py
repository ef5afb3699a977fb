"""The `rlstate` command line: parse flags, call a command module, turn errors into exit codes.

Thin on purpose: every command's work lives in `reconcile.commands.<name>`, imported only when
that command runs, so `rlstate --help` and `rlstate validate` start fast. Only this module and
reconcile.cli_errors (which words the messages, loaded once something failed) print errors or
pick exit codes.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from reconcile import DEFAULT_MANIFEST
from reconcile.cli_local import local_app
from reconcile.cli_options import (
    AllowReplaceAdopted,
    AllowShrink,
    BackendUrl,
    JsonOut,
    LockTimeout,
    ManifestArg,
    MaxAge,
    MetricsFile,
    Targets,
    Yes,
    click_errors,
    connected,
    duration,
    horizon,
    lock_options,
)

if TYPE_CHECKING:
    from reconcile.commands.connection import ConnectionSettings
    from reconcile.errors import Interrupted, RlstateError

app = typer.Typer(
    name="rlstate",
    help="Declarative desired state for Runloop devboxes, objects and snapshot series.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(local_app, name="local")
lock_app = typer.Typer(help="The stack lock: who holds it; free it.", no_args_is_help=True)
app.add_typer(lock_app, name="lock")

_debug = False


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    global _debug
    _debug = debug or os.environ.get("RLSTATE_DEBUG") == "1"


@app.command()
def validate(manifest: ManifestArg = DEFAULT_MANIFEST, json_out: JsonOut = False) -> None:
    """Check a manifest (no API call); every problem as file:line:col: field: message."""
    from reconcile.commands import validate as cmd

    raise typer.Exit(cmd.run(manifest, json_out))


@app.command()
def schema() -> None:
    """Print the manifest's JSON Schema (for editors' YAML language servers)."""
    from reconcile.commands import validate as cmd

    cmd.print_schema()


@app.command()
@connected
def plan(
    conn: ConnectionSettings,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    out: Annotated[Path | None, typer.Option("--out", help="Where to save the plan.")] = None,
    json_out: JsonOut = False,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there are changes.")
    ] = False,
    target: Targets = None,
    allow_replace_adopted: AllowReplaceAdopted = False,
    allow_shrink: AllowShrink = False,
) -> None:
    """Read live state and show what apply would do; save the plan."""
    from reconcile.commands import plan as cmd

    raise typer.Exit(
        cmd.run(
            manifest,
            conn,
            out,
            json_out,
            detailed_exitcode,
            target or [],
            allow_replace_adopted=allow_replace_adopted,
            allow_shrink=allow_shrink,
        )
    )


@app.command()
@connected
def apply(
    conn: ConnectionSettings,
    source: Annotated[
        Path | None, typer.Argument(help="Manifest or saved plan (default: the saved plan).")
    ] = None,
    yes: Yes = False,
    parallelism: Annotated[
        int,
        typer.Option(
            "--parallelism",
            "-p",
            min=1,
            max=100,
            help="Actions in flight at most (1-100). API requests in flight adapt on their own "
            "(up to 64): more while latency holds, fewer on 429/503.",
        ),
    ] = 50,
    json_out: JsonOut = False,
    target: Targets = None,
    allow_replace_adopted: AllowReplaceAdopted = False,
    allow_shrink: AllowShrink = False,
    lock_timeout: LockTimeout = None,
    backend_url: BackendUrl = None,
) -> None:
    """Make the live API match the manifest (or run a saved plan).

    Ctrl-C or SIGTERM starts nothing new and gives operations in flight 30 s to finish
    (RLSTATE_INTERRUPT_GRACE sets the seconds); a second one aborts them at once.
    """
    from reconcile.commands import apply as cmd

    lock = lock_options(lock_timeout, backend_url)
    raise typer.Exit(
        cmd.run(
            source,
            conn,
            yes,
            parallelism,
            json_out,
            target or [],
            allow_replace_adopted=allow_replace_adopted,
            allow_shrink=allow_shrink,
            lock=lock,
        )
    )


@app.command()
@connected
def destroy(
    conn: ConnectionSettings,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    yes: Yes = False,
    json_out: JsonOut = False,
    lock_timeout: LockTimeout = None,
    backend_url: BackendUrl = None,
) -> None:
    """Delete every resource of the stack (respects prevent_destroy)."""
    from reconcile.commands import apply as cmd

    lock = lock_options(lock_timeout, backend_url)
    raise typer.Exit(cmd.run_destroy(manifest, conn, yes, json_out, lock))


@app.command()
@connected
def status(
    conn: ConnectionSettings,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    json_out: JsonOut = False,
) -> None:
    """Show the stack's live resources and their state, drift marked."""
    from reconcile.commands import status as cmd

    raise typer.Exit(cmd.run(manifest, conn, json_out))


@app.command()
@connected
def generate(
    conn: ConnectionSettings,
    stack: Annotated[str, typer.Option("--stack", help="The manifest's stack name.")] = "main",
    devbox: Annotated[
        list[str] | None,
        typer.Option("--devbox", metavar="NAME_GLOB", help="Devboxes by name glob or id."),
    ] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", metavar="KEY=VALUE", help="Devboxes with this metadata."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Devbox statuses to take [default: running,suspended]."),
    ] = None,
) -> None:
    """Print a manifest that adopts an account's devboxes and their snapshots (import: entries)."""
    from reconcile.commands import generate as cmd

    raise typer.Exit(cmd.run(conn, stack, devbox or [], metadata or [], status))


@lock_app.command("status")
@connected
def lock_status(
    conn: ConnectionSettings,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    json_out: JsonOut = False,
    backend_url: BackendUrl = None,
) -> None:
    """Say who holds the stack's lock (exit 0 either way)."""
    from reconcile.commands import lock as cmd

    raise typer.Exit(cmd.status(manifest, conn, backend_url, json_out))


@lock_app.command("release")
@connected
def lock_release(
    conn: ConnectionSettings,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    force: Annotated[
        bool, typer.Option("--force", help="Required: free the lock whoever holds it.")
    ] = False,
    backend_url: BackendUrl = None,
) -> None:
    """Free the stack's lock from a holder that is alive but stuck (ends its session)."""
    from reconcile.commands import lock as cmd

    raise typer.Exit(cmd.release(manifest, conn, backend_url, force))


@app.command()
@connected
def history(
    conn: ConnectionSettings,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest runs to list.")] = 20,
    json_out: JsonOut = False,
    backend_url: BackendUrl = None,
) -> None:
    """List the stack's apply, destroy and retain runs (needs a PostgreSQL backend)."""
    from reconcile.commands import history as cmd

    raise typer.Exit(cmd.run(manifest, conn, backend_url, limit, json_out))


@app.command()
@connected
def retain(
    conn: ConnectionSettings,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Change nothing; show.")] = False,
    json_out: JsonOut = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Silent unless an error.")] = False,
    allow_shrink: AllowShrink = False,
    simulate: Annotated[
        str | None, typer.Option(help="Change nothing; project this long ahead (90d).")
    ] = None,
    prometheus: MetricsFile = None,
    lock_timeout: LockTimeout = None,
    backend_url: BackendUrl = None,
) -> None:
    """Nightly job: take due snapshots and prune by `keep` (snapshot series only)."""
    ahead = horizon(simulate)
    if ahead is not None:
        from reconcile.commands import simulate as sim

        raise typer.Exit(sim.run(manifest, conn, ahead, json_out))
    from reconcile.commands import retain as cmd

    code = cmd.run(
        manifest,
        conn,
        dry_run,
        json_out,
        quiet,
        allow_shrink=allow_shrink,
        prometheus=prometheus,
        lock=lock_options(lock_timeout, backend_url),
    )
    raise typer.Exit(code)


@app.command()
@connected
def check(
    conn: ConnectionSettings,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    max_age: MaxAge = None,
    prometheus: MetricsFile = None,
) -> None:
    """Monitor the snapshot series: one line, Nagios exit status (0 OK … 3 UNKNOWN)."""
    from reconcile.commands import check as cmd

    raise typer.Exit(cmd.run(manifest, conn, duration(max_age, "--max-age"), prometheus))


@app.command()
@connected
def undelete(
    conn: ConnectionSettings,
    series: Annotated[
        str, typer.Argument(help="The snapshot series: `nightly` or `snapshot.nightly`.")
    ],
    ids: Annotated[list[str] | None, typer.Argument(help="Snapshot ids to keep.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every snapshot marked.")] = False,
    manifest: Annotated[Path, typer.Option("--manifest", "-f", help="The manifest.")] = Path(
        "rlstate.yaml"
    ),
    json_out: JsonOut = False,
) -> None:
    """Clear the grace marks a prune left (`prune.grace`), before a run deletes them."""
    from reconcile.commands import undelete as cmd

    raise typer.Exit(cmd.run(manifest, conn, series, list(ids or []), every, json_out))


def _rlstate_error() -> type[RlstateError]:
    """The root of rlstate's errors, imported only once an exception is being matched."""
    from reconcile.errors import RlstateError

    return RlstateError


def _interrupted() -> type[Interrupted]:
    """What a signal ends a run with, imported only once an exception is being matched."""
    from reconcile.errors import Interrupted

    return Interrupted


def _dispatch() -> NoReturn:
    """Run the app; an error's message (or a signal's, which comes first) and exit status."""
    from reconcile.signals import check

    click_error, usage_error, no_args = click_errors()
    try:
        code = app(standalone_mode=False)
    except usage_error as error:
        check()
        from reconcile import cli_errors

        cli_errors.usage_error(error, no_args)
    except click_error as error:
        check()
        sys.stderr.write(f"error: {error.format_message()}\n")  # type: ignore[attr-defined]
        raise SystemExit(1) from None
    except typer.Abort:
        check()
        sys.stderr.write("aborted\n")
        raise SystemExit(1) from None
    except _rlstate_error() as error:
        check()
        from reconcile import cli_errors

        cli_errors.fail(error, _debug)
    except KeyboardInterrupt:  # only where the signal handlers are not rlstate's own
        sys.stderr.write("interrupted\n")
        raise SystemExit(128 + signal.SIGINT) from None
    except OSError as error:
        check()
        from reconcile import cli_errors

        cli_errors.os_error(error, _debug)
    check()
    raise SystemExit(code if isinstance(code, int) else 0)


def main() -> None:
    """Console-script entry point."""
    try:
        _dispatch()
    except SystemExit:  # how every run ends: matching it needs no error class imported
        raise
    except _interrupted() as stopped:
        sys.stderr.write(f"{stopped}\n")
        raise SystemExit(128 + stopped.signum) from None
