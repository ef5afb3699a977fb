"""The lock-backend settings (which backend, redaction, the key), the lock-file engine behind
the backend interface, and what a run records for its history."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.commands.runlock import RunRecord, parse_timeout
from reconcile.errors import ConfigError, Interrupted, LockLostError
from reconcile.lockbackend import Holder, StackKey
from reconcile.lockbackend.filelock import FileBackend
from reconcile.lockbackend.settings import api_origin, choose, redact

URL = "postgresql://team:s3cret@db.internal:5432/rlstate"
MANIFEST = Path("/srv/ci/rlstate.yaml")


def test_redact_hides_the_password_wherever_it_is() -> None:
    assert redact(URL) == "postgresql://team:***@db.internal:5432/rlstate"
    assert redact("postgresql://db/rl?user=u&password=s3cret&sslmode=require") == (
        "postgresql://db/rl?user=u&password=***&sslmode=require"
    )
    assert redact("postgresql://team@db/rl") == "postgresql://team@db/rl"


def test_the_flag_beats_the_environment_which_beats_the_manifest() -> None:
    env = {"RLSTATE_BACKEND_URL": "postgresql://env@db/rl"}
    assert choose("postgresql://flag@db/rl", env, URL, MANIFEST).source == "--backend-url"
    assert choose(None, env, URL, MANIFEST).source == "RLSTATE_BACKEND_URL"
    from_manifest = choose(None, {}, URL, MANIFEST)
    assert from_manifest.source == f"backend.postgres.url in {MANIFEST}"
    assert "s3cret" not in from_manifest.shown and "***" in from_manifest.shown
    assert choose(None, {}, None, MANIFEST).url is None  # the lock file, as before


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://db.internal/rl", "https:// is not a PostgreSQL URL"),
        ("db.internal/rl", "not a URL"),
        ("postgresql://db:99999999/rl", "not a URL"),
    ],
)
def test_a_url_that_is_not_postgresql_names_the_setting(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        choose(url, {}, None, MANIFEST)
    assert str(caught.value).startswith("--backend-url: ")


def test_an_unset_variable_in_the_manifest_url_is_named() -> None:
    with pytest.raises(ConfigError, match="environment variable TEAM_PG is not set"):
        choose(None, {}, "${env:TEAM_PG}", MANIFEST)


def test_the_api_is_part_of_the_key(tmp_path: Path) -> None:
    assert api_origin(None, None, tmp_path) == f"local:{tmp_path.resolve()}"
    assert api_origin(None, "key", tmp_path) == "https://api.runloop.ai"
    assert api_origin("http://127.0.0.1:8786", None, tmp_path) == "http://127.0.0.1:8786"
    from reconcile.lockbackend.postgres import lock_key

    keys = {
        lock_key(StackKey("app", "https://api.runloop.ai")),
        lock_key(StackKey("app", "http://127.0.0.1:8786")),
        lock_key(StackKey("app2", "https://api.runloop.ai")),
    }
    assert len(keys) == 3


@pytest.mark.parametrize(
    ("text", "seconds"), [(None, 0.0), ("0", 0.0), ("90s", 90.0), ("30m", 1800.0)]
)
def test_lock_timeout_is_a_duration(text: str | None, seconds: float) -> None:
    assert parse_timeout(text) == seconds


def test_a_bad_lock_timeout_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="--lock-timeout: bad duration"):
        parse_timeout("soon")


def test_the_lock_file_engine_behind_the_interface(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / ".rlstate")
    key = StackKey("app", "https://api.runloop.ai")
    held = backend.try_acquire(key, "apply")
    assert not isinstance(held, Holder)
    busy = backend.try_acquire(key, "retain")
    assert isinstance(busy, Holder) and busy.command == "apply"
    assert backend.holder(key) == busy
    held.check_held()

    assert backend.force_release(key) == busy
    with pytest.raises(LockLostError, match="released by someone else"):
        held.check_held()
    held.release()  # never someone else's, and no error once it is gone
    assert backend.holder(key) is None
    assert "app.lock" in backend.place(key)


def test_a_run_record_keeps_results_counts_and_the_exit_status() -> None:
    record = RunRecord()
    record.event(
        {
            "event": "action",
            "id": "a",
            "address": "devbox.a",
            "kind": "create",
            "state": "started",
            "message": "creating",
        }
    )
    record.event(
        {
            "event": "action",
            "id": "p",
            "address": "snapshot.s",
            "kind": "prune",
            "state": "done",
            "message": "pruned",
            "snapshot": "snp_1",
        }
    )
    record.event(
        {
            "event": "summary",
            "taken": 1,
            "pruned": 1,
            "dry_run": False,
            "requests": 9,
            "elapsed_s": 1.5,
            "result": "ok",
        }
    )
    record.exit_code = 0

    end = record.end(None)
    assert [(a.id, a.state, a.resource_id) for a in end.actions] == [("p", "done", "snp_1")]
    assert end.counts == {"taken": 1, "pruned": 1}
    assert (end.exit_status, end.error) == (0, None)
    assert record.end(Interrupted(15)).exit_status == 143
    assert record.end(LockLostError("lost the lock")).exit_status == 1
