"""The executor's graph walk against the real local backend: order, parallelism, failures, stops."""

from __future__ import annotations

from typing import Any

import pytest
from executor_support import (
    devbox,
    plan_of,
    prune,
    run_plan,
    snapshot,
    stack_devboxes,
)

from reconcile.apply.events import ActionEvent, Event, SummaryEvent
from reconcile.apply.executor import RunControl, refuse_protected
from reconcile.errors import ProtectedResourceError, SetupCommandError
from reconcile.plan.model import Refusal


def test_dependents_start_only_after_their_dependencies_are_done(local_server: Any) -> None:
    plan = plan_of(
        devbox("builder", setup=["echo built > /home/user/built.txt"]),
        devbox("other"),
        snapshot("golden", "${devbox:devbox.builder}", deps=["create devbox.builder"]),
        devbox(
            "worker",
            kind="restore",
            body={"snapshot_id": "${snapshot:golden}"},
            deps=["snapshot snapshot.golden"],
        ),
        devbox("last", deps=["restore devbox.worker", "create devbox.other"]),
    )
    run = run_plan(local_server, plan, parallelism=4)

    assert run.result.outcome == "converged", run.result.failed
    position = {(e.id, e.state): i for i, e in enumerate(run.action_events())}
    for action in plan.actions:
        for dep in action.depends_on:
            assert position[(dep, "done")] < position[(action.id, "started")], (dep, action.id)
    assert len(run.result.done) == 5


@pytest.mark.parametrize("parallelism", [1, 3], ids=["one-at-a-time", "three-at-a-time"])
def test_never_more_than_parallelism_in_flight(local_server: Any, parallelism: int) -> None:
    plan = plan_of(*(devbox(f"box-{n}") for n in range(7)))
    run = run_plan(local_server, plan, parallelism=parallelism)

    assert run.result.outcome == "converged"
    # The bound is reached (the test would notice a serial executor) and never exceeded.
    assert run.max_in_flight() == parallelism
    assert len(stack_devboxes(local_server)) == 7


def test_failure_skips_dependents_and_independent_work_finishes(local_server: Any) -> None:
    plan = plan_of(
        devbox("broken", setup=["echo starting", "echo doomed >&2; exit 3"]),
        snapshot("golden", "${devbox:devbox.broken}", deps=["create devbox.broken"]),
        prune("golden", "snp_old", deps=["snapshot snapshot.golden"]),
        devbox("fine"),
    )
    run = run_plan(local_server, plan)

    result = run.result
    assert result.outcome == "partial"
    assert result.exit_code == 1
    assert result.done == ("create devbox.fine",)
    ((failed_id, reason),) = result.failed
    assert failed_id == "create devbox.broken"
    assert "exited with status 3" in reason and "doomed" in reason
    assert "\n" not in reason
    assert isinstance(result.errors[failed_id], SetupCommandError)
    assert dict(result.skipped) == {
        "snapshot snapshot.golden": "not run: 'create devbox.broken' failed",
        "prune snp_old": "not run: 'create devbox.broken' failed",
    }
    # Reported once each: one skipped event per skipped action.
    assert sorted(run.order("skipped")) == ["prune snp_old", "snapshot snapshot.golden"]
    summary = run.events[-1]
    assert isinstance(summary, SummaryEvent)
    assert summary.to_json()["failed"] == 1 and summary.to_json()["skipped"] == 2


def test_everything_failing_is_failed_not_partial(local_server: Any) -> None:
    run = run_plan(local_server, plan_of(devbox("bad", setup=["exit 1"])))
    assert run.result.outcome == "failed"


def test_a_plan_with_refusals_changes_nothing(local_server: Any) -> None:
    refusal = Refusal("delete devbox.keep", "devbox.keep", "lifecycle.prevent_destroy is set")
    plan = plan_of(devbox("would-be-made"), refusals=[refusal])
    with pytest.raises(ProtectedResourceError, match=r"devbox\.keep"):
        run_plan(local_server, plan)
    assert stack_devboxes(local_server) == []


def test_a_refusal_that_names_its_resource_names_it_once() -> None:
    message = "devbox.keep has prevent_destroy; deleting it is refused"
    plan = plan_of(refusals=[Refusal("delete devbox.keep", "devbox.keep", message)])
    with pytest.raises(ProtectedResourceError) as raised:
        refuse_protected(plan)
    assert str(raised.value).endswith(f"nothing was changed: {message}")


def test_unknown_dependency_is_skipped_not_run(local_server: Any) -> None:
    run = run_plan(local_server, plan_of(devbox("orphan", deps=["create devbox.ghost"])))
    assert run.result.skipped == (
        (
            "create devbox.orphan",
            "not run: it depends on 'create devbox.ghost', which is not in the plan",
        ),
    )
    assert stack_devboxes(local_server) == []


def test_a_stop_lets_in_flight_work_finish_and_starts_nothing_new(local_server: Any) -> None:
    def stop_after_first_start(control: RunControl, event: Event) -> None:
        if isinstance(event, ActionEvent) and event.state == "started":
            assert control.interrupt() == "stop"

    plan = plan_of(*(devbox(f"box-{n}") for n in range(4)))
    run = run_plan(local_server, plan, parallelism=2, control_hook=stop_after_first_start)

    # The stop arrives with the first start, so the second slot is never filled.
    assert run.result.done == ("create devbox.box-0",)
    assert {why for _, why in run.result.skipped} == {"not started: the run was interrupted"}
    assert len(run.result.skipped) == 3
    assert run.result.outcome == "partial"
    assert len(stack_devboxes(local_server)) == 1


def test_a_second_interrupt_aborts_in_flight_work(local_server: Any) -> None:
    def interrupt_twice_while_waiting(control: RunControl, event: Event) -> None:
        if isinstance(event, ActionEvent) and event.state == "waiting":
            control.interrupt()
            control.interrupt()

    plan = plan_of(devbox("slow", setup=["sleep 30"]), devbox("queued"))
    run = run_plan(local_server, plan, parallelism=1, control_hook=interrupt_twice_while_waiting)

    assert run.result.failed == (
        ("create devbox.slow", "aborted by a second interrupt while in flight"),
    )
    assert run.result.skipped == (("create devbox.queued", "not started: the run was interrupted"),)
    assert run.result.outcome == "failed"
