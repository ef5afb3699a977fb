"""Options several rlstate commands share, defined once, and the settings objects they make.

Building these must stay cheap (`rlstate --help` imports this): the settings modules are
imported when a command runs. Prints nothing and picks no exit code (reconcile.cli does).
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from reconcile.commands.connection import ConnectionSettings
    from reconcile.commands.runlock import LockOptions

ManifestArg = Annotated[Path, typer.Argument(help="Manifest file.", show_default=True)]
ApiUrl = Annotated[
    str | None, typer.Option("--api-url", help="API base URL [env RUNLOOP_BASE_URL].")
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", help="API key [env RUNLOOP_API_KEY].", show_default=False),
]
LocalDir = Annotated[
    Path | None, typer.Option("--local-dir", help="Local backend data [env RLSTATE_LOCAL_DIR].")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Targets = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="ADDRESS",
        help="Limit to this address, e.g. devbox.api, and what it needs (repeatable).",
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AllowReplaceAdopted = Annotated[
    bool,
    typer.Option(
        "--allow-replace-adopted",
        help="Allow replacing devboxes rlstate adopted (an `import:` entry) instead of created.",
    ),
]
AllowShrink = Annotated[
    bool, typer.Option("--allow-shrink", help="Prune beyond a series' max_prune.")
]
LockTimeout = Annotated[
    str | None,
    typer.Option(
        "--lock-timeout",
        metavar="DURATION",
        help="Wait this long for the stack lock, e.g. 30s, 30m (default: fail at once).",
    ),
]
BackendUrl = Annotated[
    str | None,
    typer.Option(
        "--backend-url",
        metavar="URL",
        help="PostgreSQL URL of the shared lock and history [env RLSTATE_BACKEND_URL].",
        show_default=False,
    ),
]


def duration(value: str | None, flag: str) -> timedelta | None:
    """A `--max-age`/`--simulate` value in manifest units (36h, 90d); a bad one names `flag`."""
    if value is None:
        return None
    from reconcile.errors import ConfigError
    from reconcile.manifest.schema import parse_duration

    try:
        return parse_duration(value)
    except ValueError as error:
        raise ConfigError(f"{flag}: {error}") from None


SIMULATE_LIMIT_DAYS = 3650


def horizon(value: str | None) -> timedelta | None:
    """The `--simulate` horizon: a duration of at most ten years (longer only spends minutes)."""
    found = duration(value, "--simulate")
    if found is not None and found > timedelta(days=SIMULATE_LIMIT_DAYS):
        from reconcile.errors import ConfigError

        raise ConfigError(f"--simulate: at most {SIMULATE_LIMIT_DAYS}d (got {value})")
    return found


MaxAge = Annotated[
    str | None,
    typer.Option(help="Stale after this (36h; a series' alert_after wins; default 1.5x every)."),
]
MetricsFile = Annotated[
    Path | None,
    typer.Option("--prometheus", help="Also write metrics here (textfile collector), atomically."),
]


def connection(
    api_url: str | None, api_key: str | None, local_dir: Path | None
) -> ConnectionSettings:
    """The connection the --api-url, --api-key and --local-dir flags (or the environment) say."""
    from reconcile.commands.connection import ConnectionSettings

    return ConnectionSettings.from_flags(api_url=api_url, api_key=api_key, local_dir=local_dir)


def lock_options(timeout: str | None, backend_url: str | None) -> LockOptions:
    """How to take the stack lock: --lock-timeout parsed, --backend-url as given."""
    from reconcile.commands.runlock import LockOptions, parse_timeout

    return LockOptions(timeout=parse_timeout(timeout), backend_url=backend_url)


_CONNECTION_OPTIONS = (("api_url", ApiUrl), ("api_key", ApiKey), ("local_dir", LocalDir))


def _resolved_parameters(command: Callable[..., None]) -> list[inspect.Parameter]:
    """The command's parameters but its first (`conn`), their annotations evaluated for typer."""
    params = list(inspect.signature(command).parameters.values())[1:]
    names = {p.name: command.__annotations__[p.name] for p in params}
    hints = typing.get_type_hints(
        SimpleNamespace(__annotations__=names), command.__globals__, include_extras=True
    )
    return [p.replace(annotation=hints[p.name]) for p in params]


def connected(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the --api-url, --api-key and --local-dir options, after its own; it is
    called with the ConnectionSettings they make as its first argument, `conn`."""
    params = _resolved_parameters(command)
    keyword = inspect.Parameter.KEYWORD_ONLY
    params += [
        inspect.Parameter(n, keyword, default=None, annotation=a) for n, a in _CONNECTION_OPTIONS
    ]

    @functools.wraps(command)
    def run(
        *args: Any,
        api_url: str | None = None,
        api_key: str | None = None,
        local_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        command(connection(api_url, api_key, local_dir), *args, **kwargs)

    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run


def click_errors() -> tuple[type[Exception], type[Exception], type[Exception]]:
    """click's ClickException, UsageError and NoArgsIsHelpError (typer may vendor click)."""
    mro: tuple[type, ...] = typer.BadParameter.__mro__
    usage = next(c for c in mro if c.__name__ == "UsageError")
    base = next(c for c in mro if c.__name__ == "ClickException")
    subclasses: list[type] = usage.__subclasses__()
    no_args = next((c for c in subclasses if c.__name__ == "NoArgsIsHelpError"), _Never)
    return base, usage, no_args


class _Never(Exception):
    """Stands for NoArgsIsHelpError where click has none (older click printed help itself)."""
