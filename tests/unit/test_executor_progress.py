"""How progress events read: JSON lines, plain lines, and the live view's printed lines."""

from __future__ import annotations

import io
import json

from reconcile.apply.events import (
    ActionEvent,
    ApplyResult,
    Event,
    NoticeEvent,
    SummaryEvent,
    ThrottledEvent,
)
from reconcile.progress import JsonReporter, LiveReporter, PlainReporter, make_reporter

RESULT = ApplyResult(
    done=("create devbox.a",),
    failed=(("snapshot snapshot.g", "snapshot snp_1 of devbox dbx_1 ended in error"),),
    skipped=(("prune snp_0", "not run: 'snapshot snapshot.g' failed"),),
    outcome="partial",
    requests=42,
    elapsed_s=12.5,
)
EVENTS: list[Event] = [
    ActionEvent("create devbox.a", "devbox.a", "create", "started", "devbox.a: creating"),
    ActionEvent(
        "create devbox.a", "devbox.a", "create", "waiting", "devbox dbx_1 provisioning", 0.5
    ),
    ActionEvent(
        "create devbox.a", "devbox.a", "create", "waiting", "devbox dbx_1 provisioning", 1.5
    ),
    ThrottledEvent(
        "throttled (429), retrying in 1.0s",
        429,
        1.0,
        "POST",
        "/v1/devboxes",
        "create devbox.a",
        "devbox.a",
    ),
    ActionEvent(
        "create devbox.a", "devbox.a", "create", "done", "devbox.a has been created (dbx_1)", 12.0
    ),
    NoticeEvent("interrupted: starting nothing new"),
    SummaryEvent(RESULT),
]


def test_json_lines_have_the_documented_shape_and_end_with_the_summary() -> None:
    out = io.StringIO()
    reporter = JsonReporter(out)
    for event in EVENTS:
        reporter(event)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {
        "event": "action",
        "id": "create devbox.a",
        "address": "devbox.a",
        "kind": "create",
        "state": "started",
        "message": "devbox.a: creating",
        "elapsed_s": 0.0,
    }
    assert lines[3]["event"] == "throttled" and lines[3]["id"] == "create devbox.a"
    last = lines[-1]
    assert {k: last[k] for k in ("event", "result", "done", "failed", "skipped", "requests")} == {
        "event": "summary",
        "result": "partial",
        "done": 1,
        "failed": 1,
        "skipped": 1,
        "requests": 42,
    }


def test_plain_lines_one_per_event_with_repeated_waits_left_out() -> None:
    out = io.StringIO()
    reporter = PlainReporter(out)
    for event in EVENTS:
        reporter(event)
    assert out.getvalue().splitlines() == [
        "devbox.a: creating",
        "devbox.a: waiting: devbox dbx_1 provisioning [0.5s]",
        "devbox.a: throttled: POST /v1/devboxes: throttled (429), retrying in 1.0s",
        "devbox.a has been created (dbx_1) [12s]",
        "interrupted: starting nothing new",
        "Apply partial: 1 done, 1 failed, 1 skipped (42 requests, 12.5s).",
        "  failed:  snapshot snapshot.g: snapshot snp_1 of devbox dbx_1 ended in error",
        "  skipped: prune snp_0: not run: 'snapshot snapshot.g' failed",
    ]


def test_the_live_view_prints_finished_actions_and_the_summary() -> None:
    out = io.StringIO()
    reporter = LiveReporter(out, verb="Destroy")
    for event in EVENTS:
        reporter(event)
    reporter.close()
    text = out.getvalue()
    assert "devbox.a has been created (dbx_1)" in text
    assert "Destroy partial: 1 done, 1 failed, 1 skipped" in text


def test_the_reporter_follows_the_flags_and_the_stream() -> None:
    assert isinstance(make_reporter(io.StringIO(), json_out=True), JsonReporter)
    assert isinstance(make_reporter(io.StringIO(), json_out=False), PlainReporter)
