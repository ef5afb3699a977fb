"""The stack lock a writing command holds (a lock file, or the PostgreSQL backend), the check
before each of its writes, and the run's history record; the edge between commands and
`reconcile.lockbackend`.

Waiting happens here, the same for every backend: fail at once naming the holder, or poll
until `--lock-timeout` runs out. SIGINT and SIGTERM unwind the run (as with the lock file
alone), so the lock is let go and the history row gets its end.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile import signals
from reconcile.errors import BackendError, ConfigError, Interrupted, LockError, UserError
from reconcile.lockbackend import HeldLock, Holder, LockBackend, StackKey
from reconcile.lockbackend.settings import BackendChoice, api_origin, choose
from reconcile.plan.planfile import PLAN_DIR

if TYPE_CHECKING:
    from reconcile.apply.events import Event
    from reconcile.apply.lock import _SignalGate
    from reconcile.commands.connection import ConnectionSettings
    from reconcile.lockbackend.history import PgHistory
    from reconcile.lockbackend.records import ActionResult, RunEnd
    from reconcile.manifest import LoadedManifest
    from reconcile.plan.model import Plan

POLL_SECONDS = 0.25
# What the run did is counted; how it talked to the API (requests, time, throttling, the most
# requests in flight) stays in the summary the history row keeps whole.
_COUNT_SKIP = frozenset({"requests", "elapsed_s", "throttled", "peak_concurrency"})


@dataclass(frozen=True)
class LockOptions:
    """`--lock-timeout` (seconds; 0 fails at once) and `--backend-url`."""

    timeout: float = 0.0
    backend_url: str | None = None


def parse_timeout(text: str | None) -> float:
    """`--lock-timeout` in seconds: 0, or a duration like 90s, 30m, 1h."""
    if text is None or text.strip() in ("", "0"):
        return 0.0
    from reconcile.manifest.schema import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as error:
        raise ConfigError(f"--lock-timeout: {error}") from None


def backend_choice(loaded: LoadedManifest, flag: str | None) -> BackendChoice:
    """The backend the flag, RLSTATE_BACKEND_URL or the manifest's `backend:` block sets."""
    from reconcile.manifest.schema import ENV_REF_RE

    spec = loaded.manifest.backend
    template = spec.postgres.url if spec is not None and spec.postgres is not None else None
    url = None
    if template is not None:  # an unset ${env:NAME} stays as is: `choose` names it
        url = ENV_REF_RE.sub(lambda m: os.environ.get(m.group(1), m.group(0)), template)
    return choose(flag, os.environ, url, loaded.path)


def stack_key(loaded: LoadedManifest, conn: ConnectionSettings) -> StackKey:
    return StackKey(loaded.manifest.stack, api_origin(conn.api_url, conn.api_key, conn.local_dir))


def open_backend(choice: BackendChoice, manifest: Path) -> LockBackend:
    """The lock file folder beside the manifest, or a connected PostgreSQL backend."""
    if choice.url is None:
        from reconcile.lockbackend.filelock import FileBackend

        return FileBackend(manifest.resolve().parent / PLAN_DIR)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{choice.source} sets a PostgreSQL lock backend, which needs psycopg: "
            "pip install 'rlstate[postgres]' (or 'psycopg[binary]')"
        ) from None
    from reconcile.lockbackend.postgres import PgBackend

    return PgBackend(choice)


@dataclass
class RunRecord:
    """What a run tells its history: its final action events, summary, plan and exit status."""

    actions: list[ActionResult] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    plan_digest: str | None = None
    exit_code: int = 0
    resource_ids: dict[str, str] = field(default_factory=dict)

    def event(self, data: dict[str, Any]) -> None:
        """Takes one `--json` event (action results and the summary are kept)."""
        from reconcile.lockbackend.records import ActionResult

        kind = data.get("event")
        if kind == "summary":
            self.summary = data
        elif kind == "action" and data.get("state") in ("done", "failed", "skipped"):
            action_id = str(data.get("id"))
            resource = data.get("snapshot") or self.resource_ids.get(action_id)
            self.actions.append(
                ActionResult(
                    action_id,
                    str(data.get("address")),
                    str(data.get("kind")),
                    str(data.get("state")),
                    str(data.get("message")),
                    resource,
                )
            )

    def tee(self, sink: Callable[[Event], None]) -> Callable[[Event], None]:
        """`sink`, also recording each event."""

        def both(event: Event) -> None:
            self.event(event.to_json())
            sink(event)

        return both

    def planned(self, plan: Plan | None) -> None:
        """The plan this run carries out (its digest, and the ids it acts on)."""
        if plan is None:
            return
        self.plan_digest = hashlib.sha256(plan.to_json().encode()).hexdigest()
        self.resource_ids.update({a.id: a.resource_id for a in plan.actions if a.resource_id})

    def end(self, error: BaseException | None) -> RunEnd:
        from reconcile.lockbackend.records import RunEnd

        status = self.exit_code
        if isinstance(error, Interrupted):
            status = 128 + error.signum
        elif error is not None:
            status = 1
        summary = self.summary or {}
        counts = {
            k: v
            for k, v in summary.items()
            if isinstance(v, int) and not isinstance(v, bool) and k not in _COUNT_SKIP
        }
        message = None if error is None else " ".join(str(error).split()) or type(error).__name__
        return RunEnd(status, self.plan_digest, counts, self.summary, message, self.actions)


def _wait(
    backend: LockBackend,
    key: StackKey,
    command: str,
    timeout: float,
    gate: _SignalGate,
    box: list[HeldLock],
) -> None:
    """Puts the lock in `box` once taken (before a signal that came meanwhile is raised, so
    the caller lets it go); LockError naming the holder when time runs out."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        signals.check()  # one that came while connecting or polling: stop waiting
        with gate.shut():
            got = backend.try_acquire(key, command)
            if not isinstance(got, Holder):
                box.append(got)
                return
        if time.monotonic() >= deadline:
            waited = f" (waited {_seconds(timeout)})" if timeout else ""
            raise LockError(
                f"stack {key.stack!r} is locked by another rlstate run: {got.describe()} "
                f"({backend.place(key)}){waited}"
            )
        if not told:
            told = True
            sys.stderr.write(
                f"rlstate: waiting up to {_seconds(timeout)} for the lock of stack "
                f"{key.stack!r}, held by {got.describe()}\n"
            )
            sys.stderr.flush()
        with signals.interruptible():
            time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))


def _seconds(value: float) -> str:
    return f"{value:g}s" if value < 120 else f"{value / 60:g}m"


@contextmanager
def _lock_folder_errors(manifest: Path) -> Iterator[None]:
    """An OSError of the lock file as a UserError naming the folder."""
    try:
        yield
    except OSError as error:
        folder = manifest.resolve().parent / PLAN_DIR
        raise UserError(
            f"cannot take the stack lock in {folder}: {error.strerror or error} "
            "(the manifest's folder must be writable)"
        ) from None


def _history(backend: LockBackend) -> PgHistory | None:
    if backend.name != "postgres":
        return None
    from reconcile.lockbackend.history import PgHistory
    from reconcile.lockbackend.postgres import PgBackend

    assert isinstance(backend, PgBackend)
    return PgHistory(backend)


def _finish(history: PgHistory | None, run_id: int | None, end: RunEnd) -> None:
    """Writes the run's end; a failure is said on stderr (the run's own outcome stands)."""
    if history is None or run_id is None:
        return
    try:
        history.finish(run_id, end)
    except (BackendError, UserError) as error:
        sys.stderr.write(f"rlstate: warning: {error}\n")


@contextmanager
def run_lock(
    loaded: LoadedManifest,
    conn: ConnectionSettings,
    command: str,
    options: LockOptions | None = None,
) -> Iterator[RunRecord]:
    """Holds the stack's lock for the block; every write in it first asks that the lock is
    still held, and a lock lost by the end fails the run (LockLostError). With PostgreSQL,
    the run is recorded in the history (the block sets the record's events and exit code)."""
    from reconcile.api.writegate import guarded
    from reconcile.apply.lock import _signals_unwind

    options = options or LockOptions()
    key = stack_key(loaded, conn)
    choice = backend_choice(loaded, options.backend_url)
    with _signals_unwind() as gate:
        backend = open_backend(choice, loaded.path)
        box: list[HeldLock] = []
        try:
            with _lock_folder_errors(loaded.path):
                _wait(backend, key, command, options.timeout, gate, box)
            signals.check()  # one that came as it was taken: let go of it, start nothing
            held = box[0]
            history = _history(backend)
            number = getattr(held, "number", None)
            run_id = history.start(key, held.holder, number) if history else None
            record = RunRecord()
            error: BaseException | None = None
            try:
                with guarded(held.check_held):
                    yield record
                held.check_held(fresh=True)  # a run that lost its lock says so, whatever it did
            except BaseException as raised:
                error = raised
                raise
            finally:
                with gate.shut():
                    _finish(history, run_id, record.end(error))
        finally:
            with gate.shut():
                for held in box:
                    held.release()
                backend.close()
