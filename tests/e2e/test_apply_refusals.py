"""What apply refuses, and how it stops: stale saved plans, no terminal to ask on, protected
resources, a held lock, Ctrl-C. Every refusal changes nothing."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from apply_support import by_name, converged, devboxes, rlstate, sdk, start, summary, workdir

from reconcile.apply.lock import stack_lock
from reconcile.plan.model import FORMAT_VERSION
from tests.helpers import run_rlstate


def _quickstart(tmp_path: Path) -> Path:
    work = workdir(tmp_path)
    shutil.copy(work / "quickstart.yaml", work / "rlstate.yaml")
    return work


def test_a_saved_plan_is_applied_without_asking_and_then_there_is_nothing_to_do(
    local_server: Any, tmp_path: Path
) -> None:
    work = _quickstart(tmp_path)
    assert rlstate(local_server, work, "plan").returncode == 0

    applied = rlstate(local_server, work, "apply")
    assert applied.returncode == 0, applied.stderr
    assert "devbox.hello has been created" in applied.stdout

    again = rlstate(local_server, work, "apply", "rlstate.yaml")
    assert (again.returncode, again.stdout.strip()) == (0, "No changes.")


def test_a_saved_plan_is_refused_when_live_resources_changed(
    local_server: Any, tmp_path: Path
) -> None:
    work = _quickstart(tmp_path)
    assert rlstate(local_server, work, "apply", "--yes", "rlstate.yaml").returncode == 0
    manifest = work / "rlstate.yaml"
    manifest.write_text(manifest.read_text().replace("hello from rlstate", "hello again"))
    assert rlstate(local_server, work, "plan").returncode == 0  # plans a replacement
    client = sdk(local_server)
    hello = by_name(client, "quickstart")["hello"]
    client.devboxes.shutdown(hello.id)  # someone else changes what the plan read

    refused = rlstate(local_server, work, "apply")

    assert refused.returncode == 1
    assert "stale" in refused.stderr and hello.id in refused.stderr
    assert [d.id for d in devboxes(client, "quickstart", active_only=False)] == [hello.id]


def test_a_saved_plan_is_refused_when_the_manifest_changed(
    local_server: Any, tmp_path: Path
) -> None:
    work = _quickstart(tmp_path)
    assert rlstate(local_server, work, "plan").returncode == 0
    (work / "rlstate.yaml").write_text((work / "rlstate.yaml").read_text() + "\n# edited\n")

    refused = rlstate(local_server, work, "apply")

    assert refused.returncode == 1
    assert "rlstate.yaml changed since the plan was made" in refused.stderr
    assert devboxes(sdk(local_server), "quickstart") == []


def test_a_plan_file_of_another_format_is_refused_with_one_line_saying_plan_again(
    local_server: Any, tmp_path: Path
) -> None:
    work = _quickstart(tmp_path)
    assert rlstate(local_server, work, "plan").returncode == 0
    saved = work / ".rlstate" / "plan.json"
    data = json.loads(saved.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    saved.write_text(json.dumps(data))

    refused = rlstate(local_server, work, "apply")

    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert f"format_version {FORMAT_VERSION + 1}" in lines[0]
    assert lines[0].endswith("run `rlstate plan` again")
    assert devboxes(sdk(local_server), "quickstart") == []


def test_without_yes_and_without_a_terminal_nothing_is_applied(
    local_server: Any, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    refused = rlstate(local_server, work, "apply", "quickstart.yaml")

    assert refused.returncode == 1
    assert "needs --yes" in refused.stderr
    assert "+ create devbox.hello" in refused.stdout  # the plan was shown first
    assert devboxes(sdk(local_server), "quickstart") == []


def test_destroy_of_a_protected_devbox_is_refused_as_a_whole(
    local_server: Any, tmp_path: Path
) -> None:
    work = _quickstart(tmp_path)
    manifest = work / "rlstate.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "    keep_alive: 1h\n", "    keep_alive: 1h\n    lifecycle: {prevent_destroy: true}\n"
        )
    )
    assert rlstate(local_server, work, "apply", "--yes", "rlstate.yaml").returncode == 0

    refused = rlstate(local_server, work, "destroy", "--yes")

    assert refused.returncode == 1
    assert "protected" in refused.stderr and "devbox.hello" in refused.stderr
    assert by_name(sdk(local_server), "quickstart")["hello"].status == "running"


def test_a_held_lock_refuses_a_second_run_naming_its_holder(
    local_server: Any, tmp_path: Path
) -> None:
    work = _quickstart(tmp_path)
    with stack_lock(work / ".rlstate", "quickstart", "retain"):
        refused = rlstate(local_server, work, "apply", "--yes", "rlstate.yaml")
    assert refused.returncode == 1
    assert "locked by another rlstate run" in refused.stderr and "(retain)" in refused.stderr
    assert devboxes(sdk(local_server), "quickstart") == []


INTERRUPTS = [
    ([signal.SIGINT], (1, 0), "not started: the run was interrupted"),
    ([signal.SIGTERM], (1, 0), "not started: the run was interrupted"),
    ([signal.SIGINT, signal.SIGINT], (0, 1), "not run: 'create devbox.builder' failed"),
]


@pytest.mark.parametrize(
    ("signals", "done_failed", "skip_reason"),
    INTERRUPTS,
    ids=["ctrl-c-finishes-in-flight", "sigterm-finishes-in-flight", "second-ctrl-c-aborts"],
)
def test_an_interrupt_starts_nothing_new_reports_and_releases_the_lock(
    local_server: Any,
    tmp_path: Path,
    signals: list[signal.Signals],
    done_failed: tuple[int, int],
    skip_reason: str,
) -> None:
    local_server.control("/_local/speed", {"transition_seconds": 0.3})
    work = workdir(tmp_path)
    proc = start(local_server, work, "apply", "snapshot-and-restore.yaml", "--yes", "--json")
    assert proc.stdout is not None
    lines = []
    pending = list(signals)
    for line in proc.stdout:
        lines.append(line)
        event = json.loads(line)
        builder_waits = event.get("state") == "waiting" and event["id"] == "create devbox.builder"
        heard = event.get("event") == "notice"  # signals that arrive together coalesce
        if (builder_waits and len(pending) == len(signals)) or (heard and pending):
            proc.send_signal(pending.pop(0))
        if not pending:
            break
    rest, _ = proc.communicate(timeout=120)
    out = "".join(lines) + rest

    assert proc.returncode == 1
    result = summary(out)
    assert (result["done"], result["failed"]) == done_failed
    assert {s["reason"] for s in result["skips"]} == {skip_reason}
    assert not (work / ".rlstate" / "snapshot-restore.lock").exists()

    assert (
        rlstate(local_server, work, "apply", "snapshot-and-restore.yaml", "--yes").returncode == 0
    )
    assert converged(local_server, work, "snapshot-and-restore.yaml")
    assert set(by_name(sdk(local_server), "snapshot-restore")) == {
        "builder",
        "worker-0",
        "worker-1",
        "worker-2",
    }


def test_a_saved_plan_is_refused_against_another_api_than_it_was_made_on(
    local_server: Any, tmp_path: Path
) -> None:
    work = _quickstart(tmp_path)
    assert rlstate(local_server, work, "plan").returncode == 0  # against the test server
    embedded = ["apply", "--local-dir", str(tmp_path / "own")]

    refused = run_rlstate(embedded, cwd=work)

    assert refused.returncode == 1
    assert f"the saved plan was made against {local_server.url}" in refused.stderr
    assert f"the embedded local backend in {tmp_path / 'own'}" in refused.stderr
    assert devboxes(sdk(local_server), "quickstart") == []
    # the same saved plan still applies where it was made
    assert rlstate(local_server, work, "apply").returncode == 0
