"""The `rlstate local` commands: options of the local Runloop-compatible backend, then serve it.

Defines flags only: the server is imported when `local serve` runs (reconcile.commands.local),
never while building the CLI, and errors are left to reconcile.cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

local_app = typer.Typer(help="The local Runloop-compatible backend.", no_args_is_help=True)

Host = Annotated[str, typer.Option(help="Address to listen on (loopback by default).")]
Port = Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port.")]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Where devboxes, snapshots and objects live (default: per user)."),
]
Token = Annotated[
    str | None,
    typer.Option(show_default=False, help="Bearer token to require (default: DIR/token)."),
]
Seconds = Annotated[float, typer.Option(help="How long a state change takes.")]
FaultRate = Annotated[float, typer.Option(help="Share of /v1 answers that are errors.")]
FaultStatuses = Annotated[str, typer.Option(help="Statuses of those errors.")]
RetryAfter = Annotated[float | None, typer.Option(help="Their Retry-After, seconds.")]
LatencyMs = Annotated[int, typer.Option(help="Delay added to every /v1 answer.")]
DropRate = Annotated[float, typer.Option(help="Share of connections dropped unanswered.")]
SnapshotErrorRate = Annotated[float, typer.Option(help="Share of snapshots ending in error.")]
LostAnswerRate = Annotated[float, typer.Option(help="Share of requests done, then answer dropped.")]
Sandbox = Annotated[str | None, typer.Option(help="bubblewrap or subprocess (default: best)")]
RateLimit = Annotated[
    float | None,
    typer.Option(help="Requests/s per token; beyond it 429 with Retry-After (default: none)."),
]


@local_app.command("serve")
def local_serve(
    host: Host = "127.0.0.1",
    port: Port = 8786,
    data_dir: DataDir = None,
    token: Token = None,
    transition_seconds: Seconds = 0.2,
    fault_rate: FaultRate = 0.0,
    fault_statuses: FaultStatuses = "429,500,503",
    fault_retry_after: RetryAfter = None,
    latency_ms: LatencyMs = 0,
    drop_rate: DropRate = 0.0,
    snapshot_error_rate: SnapshotErrorRate = 0.0,
    lost_answer_rate: LostAnswerRate = 0.0,
    sandbox: Sandbox = None,
    rate_limit: RateLimit = None,
) -> None:
    """Run the local Runloop-compatible API server (blocks)."""
    from reconcile.commands import local as cmd

    cmd.serve(
        host=host,
        port=port,
        data_dir=data_dir,
        token=token,
        transition_seconds=transition_seconds,
        fault_rate=fault_rate,
        fault_statuses=fault_statuses,
        fault_retry_after=fault_retry_after,
        latency_ms=latency_ms,
        drop_rate=drop_rate,
        snapshot_error_rate=snapshot_error_rate,
        lost_answer_rate=lost_answer_rate,
        sandbox=sandbox,
        rate_limit=rate_limit,
    )
