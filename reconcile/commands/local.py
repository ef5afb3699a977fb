"""`rlstate local serve`: run the local Runloop-compatible API server in the foreground."""

from __future__ import annotations

from pathlib import Path

from reconcile import signals
from reconcile.commands.connection import default_local_dir
from reconcile.errors import ConfigError


def _statuses(text: str) -> tuple[int, ...]:
    try:
        codes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"--fault-statuses takes HTTP codes like 429,500,503 (got {text!r})"
        ) from None
    if not codes or any(code < 400 or code > 599 for code in codes):
        raise ConfigError(f"--fault-statuses takes 4xx/5xx codes (got {text!r})")
    return codes


def _rate(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"--{name} is a share between 0 and 1 (got {value})")
    return value


def serve(
    *,
    host: str,
    port: int,
    data_dir: Path | None,
    token: str | None,
    transition_seconds: float,
    fault_rate: float,
    fault_statuses: str,
    fault_retry_after: float | None,
    latency_ms: int,
    drop_rate: float,
    snapshot_error_rate: float,
    lost_answer_rate: float = 0.0,
    sandbox: str | None = None,
    rate_limit: float | None = None,
) -> None:
    """Build the server's config from flags and serve until interrupted."""
    from reconcile.localapi import LocalConfig
    from reconcile.localapi import serve as run_server

    if sandbox not in (None, "bubblewrap", "subprocess"):
        raise ConfigError(f"--sandbox is bubblewrap or subprocess (got {sandbox!r})")

    if rate_limit is not None and rate_limit <= 0:
        raise ConfigError(f"--rate-limit is requests per second, above 0 (got {rate_limit:g})")
    config = LocalConfig(
        data_dir=(data_dir or default_local_dir()).expanduser(),
        token=token,
        host=host,
        port=port,
        transition_seconds=transition_seconds,
        fault_rate=_rate("fault-rate", fault_rate),
        fault_statuses=_statuses(fault_statuses),
        fault_retry_after=fault_retry_after,
        fault_latency_ms=latency_ms,
        fault_drop_rate=_rate("drop-rate", drop_rate),
        fault_snapshot_error_rate=_rate("snapshot-error-rate", snapshot_error_rate),
        fault_lost_answer_rate=_rate("lost-answer-rate", lost_answer_rate),
        sandbox_mode=sandbox,
        rate_limit=rate_limit,
    )
    try:
        run_server(config, stop_on=lambda stop: signals.listening(stop, replay=True))
    except OSError as error:
        if error.filename is None:
            raise ConfigError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
        folder = config.data_dir
        reason = "it is a file" if folder.is_file() else f"{error.strerror} ({error.filename})"
        raise ConfigError(
            f"cannot use {folder} as the data folder (--data-dir): {reason}"
        ) from None
