"""`rlstate apply` and `rlstate destroy`: plan (or read a saved plan), show, confirm, execute.

The edge of the program: files, the terminal, signals and the API. The plan decides what
changes and the executor runs it; this module only checks that a saved plan still holds,
asks, runs under the stack lock, and turns the result into an exit status.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconcile import signals
from reconcile.api.limiter import AdaptiveLimit
from reconcile.apply.defaults import DEFAULT_PARALLELISM
from reconcile.commands import DEFAULT_MANIFEST
from reconcile.commands.common import discover, load, make_client
from reconcile.commands.connection import ConnectionSettings, Endpoint, connect
from reconcile.commands.interrupts import grace_seconds, graceful, run_async
from reconcile.commands.runlock import LockOptions, RunRecord, run_lock
from reconcile.errors import (
    ConfigError,
    ConfirmationRequired,
    Interrupted,
    PlanFileError,
    StalePlanError,
)
from reconcile.plan.planfile import PLAN_DIR, default_plan_path, load_plan, looks_like_plan

if TYPE_CHECKING:
    from reconcile.live.model import LiveState
    from reconcile.manifest import LoadedManifest
    from reconcile.plan.model import Plan
    from reconcile.progress import Reporter

# (manifest, live, endpoint, now): `now` is the API's time (its answers' Date)
MakePlan = Callable[["LoadedManifest", "LiveState", Endpoint, datetime], "Plan"]


@dataclass(frozen=True)
class Source:
    """What apply was asked to run: a manifest to plan from, or a saved plan (and its manifest)."""

    manifest: Path
    saved: Plan | None = None
    plan_file: Path | None = None


def resolve_source(source: Path | None) -> Source:
    """No argument: the saved plan beside ./rlstate.yaml; a .json or a file holding a saved plan
    (`plan --out` takes any name): that plan; else a manifest."""
    if source is None:
        path = default_plan_path(DEFAULT_MANIFEST)
        if not path.exists():
            raise PlanFileError(
                f"no saved plan at {PLAN_DIR}/plan.json: run `rlstate plan` first, "
                "or pass a manifest to plan and apply in one go"
            )
        source = path
    if source.suffix != ".json" and not looks_like_plan(source):
        return Source(manifest=source)
    saved = load_plan(source)
    manifest = Path(saved.manifest_path)
    if not manifest.is_absolute():
        beside = source.resolve().parent.parent / manifest
        manifest = beside if beside.exists() else manifest
    return Source(manifest=manifest, saved=saved, plan_file=source)


def check_manifest_unchanged(saved: Plan, manifest: Path) -> None:
    """StalePlanError when the manifest the plan was made from is gone or has changed."""
    try:
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    except OSError:
        raise StalePlanError(
            f"the saved plan is stale: its manifest {manifest} can no longer be read; "
            "run `rlstate plan` again"
        ) from None
    if digest != saved.manifest_sha256:
        raise StalePlanError(
            f"the saved plan is stale: {manifest} changed since the plan was made; "
            "run `rlstate plan` again (nothing was changed)"
        )


def check_same_api(saved: Plan, endpoint: Endpoint) -> None:
    """StalePlanError when the saved plan was made against another API than this run's."""

    def named(origin: str) -> str:
        folder = origin.removeprefix("local:")
        return f"the embedded local backend in {folder}" if folder != origin else origin

    if saved.api_url and saved.api_url != endpoint.origin:
        raise StalePlanError(
            f"the saved plan was made against {named(saved.api_url)}, but this run talks to "
            f"{named(endpoint.origin)}; run `rlstate plan` again against the API you mean "
            "(nothing was changed)"
        )


def check_live_unchanged(saved: Plan, live: LiveState) -> None:
    """StalePlanError naming what changed among the live resources the plan read."""
    from reconcile.plan.fingerprints import stale_reasons

    reasons = stale_reasons(saved.fingerprints, live)
    if reasons:
        shown = "; ".join(reasons[:5]) + (
            f"; and {len(reasons) - 5} more" if len(reasons) > 5 else ""
        )
        raise StalePlanError(
            f"the saved plan is stale: {shown}; run `rlstate plan` again (nothing was changed)"
        )


def run(
    source: Path | None,
    conn: ConnectionSettings,
    yes: bool,
    parallelism: int,
    json_out: bool,
    targets: list[str],
    *,
    allow_replace_adopted: bool = False,
    allow_shrink: bool = False,
    lock: LockOptions | None = None,
) -> int:
    """Apply a manifest (plan, show, confirm) or a saved plan (re-checked, not asked)."""
    chosen = resolve_source(source)
    if chosen.saved is not None and targets:
        raise ConfigError("--target cannot be used with a saved plan (plan with --target instead)")
    if chosen.saved is not None and allow_shrink:
        raise ConfigError(
            "--allow-shrink cannot be used with a saved plan: it runs as it was planned "
            "(plan with --allow-shrink instead)"
        )
    if chosen.saved is not None:
        check_manifest_unchanged(chosen.saved, chosen.manifest)
    loaded = load(chosen.manifest)
    saved = chosen.saved

    def make(loaded: LoadedManifest, live: LiveState, endpoint: Endpoint, now: datetime) -> Plan:
        from reconcile.plan.planner import build_plan

        if saved is None:
            return build_plan(
                loaded,
                live,
                now,
                tuple(targets),
                allow_replace_adopted=allow_replace_adopted,
                allow_shrink=allow_shrink,
            )
        check_same_api(saved, endpoint)
        check_live_unchanged(saved, live)
        return saved

    session = Session(loaded, conn, json_out, parallelism, verb="Apply", lock=lock)
    return session.run(make, ask=not yes and saved is None, question="Apply these changes?")


def run_destroy(
    manifest: Path,
    conn: ConnectionSettings,
    yes: bool,
    json_out: bool,
    lock: LockOptions | None = None,
) -> int:
    """Delete every resource of the stack (prevent_destroy refuses the whole plan)."""
    loaded = load(manifest, need_env=False)

    def make(loaded: LoadedManifest, live: LiveState, endpoint: Endpoint, now: datetime) -> Plan:
        from reconcile.plan.planner import build_destroy_plan

        return build_destroy_plan(loaded, live, now)

    session = Session(
        loaded, conn, json_out, parallelism=DEFAULT_PARALLELISM, verb="Destroy", lock=lock
    )
    question = f"Destroy every resource of stack {loaded.manifest.stack!r} listed above?"
    return session.run(make, ask=not yes, question=question)


class Session:
    """One apply/destroy run: lock, discover + plan, show, confirm, execute, report."""

    def __init__(
        self,
        loaded: LoadedManifest,
        conn: ConnectionSettings,
        json_out: bool,
        parallelism: int,
        verb: str,
        lock: LockOptions | None = None,
    ) -> None:
        self.loaded, self.conn, self.json_out = loaded, conn, json_out
        self.parallelism, self.verb = parallelism, verb
        self.lock, self.record = lock, RunRecord()
        self.limit = AdaptiveLimit(time.monotonic)  # one for the run: planning, then applying
        self.live: LiveState | None = None
        self.grace = grace_seconds()  # a bad setting fails here, before anything changes

    def run(self, make: MakePlan, *, ask: bool, question: str) -> int:
        from reconcile.apply.executor import refuse_protected

        with (
            run_lock(self.loaded, self.conn, self.verb.lower(), self.lock) as self.record,
            connect(self.conn, quiet=self.json_out) as endpoint,
        ):
            plan, requests = run_async(self._plan(endpoint, make))
            refuse_protected(plan)
            self.record.planned(plan)
            if not plan.has_changes:
                requests += run_async(self._stamp(endpoint, plan))
                return self._nothing_to_do(plan, requests)
            self._show(plan, ask)
            if ask and not self._confirm(question):
                sys.stderr.write(f"{self.verb} cancelled; nothing was changed.\n")
                self.record.exit_code = 1
                return 1
            self.record.exit_code = self._execute(plan, endpoint, requests)
            return self.record.exit_code

    async def _stamp(self, endpoint: Endpoint, plan: Plan | None = None) -> int:
        """Stamps what this run read complete (not what the plan changes); the requests made."""
        from reconcile.apply.stamps import stamp_complete, unstamped_complete

        if self.live is None or self.verb != "Apply":
            return 0
        skip = {a.resource_id for a in plan.actions if a.resource_id} if plan else set()
        if not unstamped_complete(self.live, skip):
            return 0
        async with make_client(endpoint, self.limit) as client:
            await stamp_complete(client, self.live, skip)
            return client.stats.total

    async def _plan(self, endpoint: Endpoint, make: MakePlan) -> tuple[Plan, int]:
        async with make_client(endpoint, self.limit) as client:
            live = self.live = await discover(client, self.loaded)
            plan = make(self.loaded, live, endpoint, client.api_clock.now())
            return replace(plan, api_url=endpoint.origin), client.stats.total

    def _nothing_to_do(self, plan: Plan, requests: int) -> int:
        """No action to run: "No changes.", or, when the shrink guard held a series' prune
        back, that refusal as the run's failure (exit 1)."""
        from reconcile.apply.events import ApplyResult, SummaryEvent
        from reconcile.apply.executor import shrink_failures
        from reconcile.progress import JsonReporter, summary_lines
        from reconcile.render import left_behind_lines

        left = tuple((f"{i.address} {i.resource_id}", i.reason) for i in plan.left_behind)
        held = shrink_failures(plan)
        result = ApplyResult(
            requests=requests,
            left_behind=left,
            failed=held,
            outcome="failed" if held else "converged",
        )
        summary = SummaryEvent(result)
        self.record.event(summary.to_json())
        if self.json_out:
            JsonReporter(sys.stdout)(summary)
        elif held:
            sys.stdout.write("".join(f"{line}\n" for line in summary_lines(result, self.verb)))
        else:
            sys.stdout.write(
                "".join(f"{line}\n" for line in ["No changes.", *left_behind_lines(plan)])
            )
        self.record.exit_code = result.exit_code
        return result.exit_code

    def _show(self, plan: Plan, ask: bool) -> None:
        from reconcile.render import render_plan_text

        if self.json_out and not ask:
            return
        stream = sys.stderr if self.json_out else sys.stdout
        stream.write(render_plan_text(plan) + "\n\n")
        stream.flush()

    def _confirm(self, question: str) -> bool:
        if not sys.stdin.isatty():
            raise ConfirmationRequired(
                f"{self.verb.lower()} needs --yes when there is no terminal to ask on "
                "(nothing was changed)"
            )
        sys.stderr.write(f"{question} [y/N] ")
        sys.stderr.flush()
        try:
            with signals.interruptible():
                answer = sys.stdin.readline()
        except (KeyboardInterrupt, Interrupted) as stop:
            if getattr(stop, "signum", signal.SIGINT) != signal.SIGINT:
                raise
            sys.stderr.write("\n")  # Ctrl-C at the question means no
            return False
        return answer.strip().lower() in ("y", "yes")

    def _execute(self, plan: Plan, endpoint: Endpoint, planned_requests: int) -> int:
        from reconcile.progress import make_reporter

        signals.check()  # one that came after the plan was shown: start nothing
        reporter = make_reporter(sys.stdout, json_out=self.json_out, verb=self.verb)
        try:
            result = asyncio.run(self._apply(plan, endpoint, reporter, planned_requests))
        finally:
            reporter.close()
        return result

    async def _apply(
        self, plan: Plan, endpoint: Endpoint, reporter: Reporter, planned_requests: int
    ) -> int:
        from reconcile.api.client import RunloopClient
        from reconcile.apply.context import RetryRelay
        from reconcile.apply.executor import ExecutorOptions, RunControl, apply_plan

        control = RunControl()
        with graceful(control, reporter, self.grace):
            relay = RetryRelay(reporter)
            async with RunloopClient(
                endpoint.url,
                endpoint.key,
                on_retry=relay,
                limit=self.limit,
                on_cut=relay.cut,
                lean=True,
            ) as client:
                if self.live is not None and self.verb == "Apply":
                    from reconcile.apply.stamps import stamp_complete

                    skip = {a.resource_id for a in plan.actions if a.resource_id}
                    await stamp_complete(client, self.live, skip)  # counted in the summary
                options = ExecutorOptions(parallelism=self.parallelism)
                result = await apply_plan(
                    plan,
                    client,
                    options=options,
                    emit=self.record.tee(reporter),
                    control=control,
                    earlier_requests=planned_requests,
                )
        return result.exit_code
