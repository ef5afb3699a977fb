"""Settings of the local server (constructor config, /_local/ knobs); no I/O but the token file."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8786
TOKEN_FILE = "token"


@dataclass
class FaultSettings:
    """Fault injection for /v1/ requests only; everything off by default."""

    rate: float = 0.0  # share of /v1 requests answered with one of `statuses`
    statuses: list[int] = field(default_factory=lambda: [429, 500, 503])
    retry_after: float | None = None  # seconds, sent as `retry-after` on injected errors
    latency_ms: int = 0  # added before every /v1 request
    drop_rate: float = 0.0  # share of /v1 requests whose connection is closed without an answer
    lost_answer_rate: float = (
        0.0  # share of /v1 POSTs that are carried out, then dropped unanswered
    )
    snapshot_error_rate: float = 0.0  # share of disk snapshots that end in `error`
    rate_limit: float | None = None  # /v1 requests per second per token; over it: 429
    rate_limit_burst: float | None = None  # requests a full bucket lets through (default: 1 s)
    seed: int | None = None  # makes the fault dice reproducible


@dataclass
class LocalConfig:
    """How to run one local server. `token=None` reads (or creates) data_dir/token, mode 0600."""

    data_dir: Path
    token: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0 picks a free port
    transition_seconds: float = 0.2  # each of provisioning/initializing/suspending/resuming
    snapshot_extra_seconds: float = 0.0  # added to every disk snapshot
    fault_rate: float = 0.0
    fault_statuses: tuple[int, ...] = (429, 500, 503)
    fault_retry_after: float | None = None
    fault_latency_ms: int = 0
    fault_drop_rate: float = 0.0
    fault_snapshot_error_rate: float = 0.0
    fault_lost_answer_rate: float = 0.0
    rate_limit: float | None = None  # requests/s per token, answered 429 + Retry-After beyond
    rate_limit_burst: float | None = None
    sandbox_mode: str | None = None  # "bubblewrap" | "subprocess" | None (best available)

    def faults(self) -> FaultSettings:
        """The fault settings this config starts with."""
        return FaultSettings(
            rate=self.fault_rate,
            statuses=list(self.fault_statuses),
            retry_after=self.fault_retry_after,
            latency_ms=self.fault_latency_ms,
            drop_rate=self.fault_drop_rate,
            snapshot_error_rate=self.fault_snapshot_error_rate,
            lost_answer_rate=self.fault_lost_answer_rate,
            rate_limit=self.rate_limit,
            rate_limit_burst=self.rate_limit_burst,
        )


@dataclass
class RuntimeSettings:
    """What /_local/ can change while the server runs (starts from LocalConfig, not persisted)."""

    transition_seconds: float
    snapshot_extra_seconds: float
    clock_offset_seconds: float
    faults: FaultSettings

    @classmethod
    def from_config(cls, config: LocalConfig) -> RuntimeSettings:
        return cls(
            transition_seconds=config.transition_seconds,
            snapshot_extra_seconds=config.snapshot_extra_seconds,
            clock_offset_seconds=0.0,
            faults=config.faults(),
        )


def token_path(data_dir: Path) -> Path:
    return Path(data_dir) / TOKEN_FILE


def resolve_token(config: LocalConfig) -> str:
    """The API token: the configured one, else the one in data_dir/token (created if absent)."""
    if config.token:
        return config.token
    path = token_path(config.data_dir)
    if path.exists():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored
    token = "rlocal_" + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return token
