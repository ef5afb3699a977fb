"""SDK sweep, disk snapshots: snapshot_disk, snapshot_disk_async with await_completed and
query_status, list (devbox, blueprint and metadata filters, paging), update, both delete calls,
metadata keys and the public listings, and restoring a devbox from a snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from runloop_api_client import ConflictError, Runloop


def test_snapshot_restore_update_and_delete(sdk: Runloop) -> None:
    box = sdk.devboxes.create_and_await_running(name="source")
    sdk.devboxes.write_file_contents(box.id, file_path="state.txt", contents="v1")
    done = sdk.devboxes.snapshot_disk(box.id, name="v1", metadata={"ver": "1"}, commit_message="m")
    assert (done.name, done.metadata, done.commit_message) == ("v1", {"ver": "1"}, "m")
    assert done.source_devbox_id == box.id and (done.size_bytes or 0) > 0
    sdk.devboxes.write_file_contents(box.id, file_path="state.txt", contents="v2")

    restored = sdk.devboxes.create_and_await_running(snapshot_id=done.id)
    assert restored.snapshot_id == done.id
    assert sdk.devboxes.read_file_contents(restored.id, file_path="state.txt") == "v1"

    updated = sdk.devboxes.disk_snapshots.update(done.id, name="renamed", commit_message="c2")
    assert (updated.name, updated.commit_message, updated.metadata) == (
        "renamed",
        "c2",
        {"ver": "1"},
    )
    again = sdk.devboxes.disk_snapshots.update(done.id, metadata={"x": "y"})
    assert (again.name, again.metadata) == ("renamed", {"x": "y"})  # metadata replaced whole
    assert sdk.devboxes.disk_snapshots.delete(done.id) == {}
    assert sdk.devboxes.disk_snapshots.query_status(done.id).status == "deleted"
    assert [s.id for s in sdk.devboxes.disk_snapshots.list(devbox_id=box.id)] == []


def test_async_snapshot_awaited_then_deleted_through_the_devboxes_alias(sdk: Runloop) -> None:
    box = sdk.devboxes.create_and_await_running()
    started = sdk.devboxes.snapshot_disk_async(box.id, name="async")
    final = sdk.devboxes.disk_snapshots.await_completed(started.id)
    assert final.status == "complete" and final.snapshot is not None
    assert final.snapshot.name == "async" and final.error_message is None
    assert sdk.devboxes.delete_disk_snapshot(started.id) == {}
    assert sdk.devboxes.disk_snapshots.query_status(started.id).status == "deleted"


def test_a_slow_snapshot_refuses_delete_until_it_completes(
    sdk_no_retry: Runloop, local_server: Any
) -> None:
    local_server.control("/_local/speed", {"snapshot_extra_seconds": 1.0})
    box = sdk_no_retry.devboxes.create_and_await_running()
    started = sdk_no_retry.devboxes.snapshot_disk_async(box.id)
    assert sdk_no_retry.devboxes.disk_snapshots.query_status(started.id).status == "in_progress"
    with pytest.raises(ConflictError):
        sdk_no_retry.devboxes.disk_snapshots.delete(started.id)
    assert sdk_no_retry.devboxes.disk_snapshots.await_completed(started.id).status == "complete"
    assert sdk_no_retry.devboxes.disk_snapshots.delete(started.id) == {}


def test_list_filters_and_pages(sdk: Runloop) -> None:
    one = sdk.devboxes.create_and_await_running()
    two = sdk.devboxes.create_and_await_running()
    for n, team in enumerate(["infra", "ml", "infra"]):
        sdk.devboxes.snapshot_disk(one.id, name=f"one-{n}", metadata={"team": team})
    sdk.devboxes.snapshot_disk(two.id, name="two", metadata={"team": "web"})

    listed = sdk.devboxes.disk_snapshots.list
    assert [s.name for s in listed(devbox_id=one.id)] == ["one-2", "one-1", "one-0"]
    page = listed(limit=2)
    assert (len(page.snapshots), page.has_more, page.total_count) == (2, True, 4)
    assert len(list(listed(limit=2))) == 4  # the SDK follows the cursor
    assert [s.name for s in listed(extra_query={"metadata[team]": "infra"})] == ["one-2", "one-0"]
    either = listed(extra_query={"metadata[team][in]": "ml,web"})
    assert [s.name for s in either] == ["two", "one-1"]
    # The SDK's metadata_key argument is sent as the literal parameter `metadata[key]`, i.e. a
    # filter on a metadata key named "key" (see docs/localapi.md).
    assert list(listed(metadata_key="infra")) == []
    assert [s.name for s in sdk.devboxes.list_disk_snapshots(devbox_id=two.id)] == ["two"]


def test_metadata_keys_values_and_public_listings(sdk: Runloop) -> None:
    box = sdk.devboxes.create_and_await_running()
    sdk.devboxes.snapshot_disk(box.id, metadata={"team": "infra", "stage": "gold"})
    sdk.devboxes.snapshot_disk(box.id, metadata={"team": "ml"})
    base = "/v1/devboxes/disk_snapshots"
    assert sdk.get(f"{base}/metadata/keys", cast_to=object) == {"keys": ["stage", "team"]}
    values = sdk.get(f"{base}/metadata/keys/team/values", cast_to=object)
    assert values == {"key": "team", "values": ["infra", "ml"]}
    assert sdk.get(f"{base}/public/metadata/keys", cast_to=object) == {"keys": []}
    public = sdk.get(f"{base}/list_public", cast_to=object)
    assert public == {"snapshots": [], "has_more": False, "total_count": 0}
