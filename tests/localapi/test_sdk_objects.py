"""SDK sweep, storage objects: the `objects` resource (create, PUT to the upload URL, complete,
retrieve, list with filters and paging, download URL, delete, list_public, metadata keys) and the
high-level `storage_object` helpers (upload_from_file/text/bytes/dir, download_as_text/bytes)."""

from __future__ import annotations

import io
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from runloop_api_client import ConflictError, NotFoundError, Runloop
from runloop_api_client.types.shared_params.object_mount import ObjectMount
from sdk_support import high_level


def test_create_put_complete_download_delete(sdk: Runloop) -> None:
    created = sdk.objects.create(
        name="data.csv", content_type="text", metadata={"k": "v"}, ttl_ms=60_000
    )
    assert (created.state, created.size_bytes) == ("UPLOADING", None)
    assert created.delete_after_time_ms == created.create_time_ms + 60_000
    assert created.upload_url and httpx.put(created.upload_url, content=b"a,b\n1,2\n").is_success
    completed = sdk.objects.complete(created.id)
    assert (completed.state, completed.size_bytes, completed.upload_url) == ("READ_ONLY", 8, None)
    assert sdk.objects.retrieve(created.id).metadata == {"k": "v"}

    url = sdk.objects.download(created.id, duration_seconds=60).download_url
    assert httpx.get(url).content == b"a,b\n1,2\n"
    with pytest.raises(ConflictError):  # permanent: the SDK does not retry it
        sdk.objects.complete(created.id)
    deleted = sdk.objects.delete(created.id)
    assert (deleted.id, deleted.state) == (created.id, "DELETED")
    with pytest.raises(NotFoundError):
        sdk.objects.retrieve(created.id)


def test_list_filters_and_pages(sdk: Runloop) -> None:
    for name in ("a.txt", "b.bin", "notes-a.txt"):
        binary = name.endswith(".bin")
        created = sdk.objects.create(name=name, content_type="binary" if binary else "text")
        sdk.objects.complete(created.id)
    pending = sdk.objects.create(name="pending.txt", content_type="text")
    listed = sdk.objects.list
    assert [o.name for o in listed(content_type="text", state="READ_ONLY")] == [
        "notes-a.txt",
        "a.txt",
    ]
    assert [o.name for o in listed(name="a.txt")] == ["notes-a.txt", "a.txt"]
    assert [o.id for o in listed(search=pending.id)] == [pending.id]
    page = listed(limit=3)
    assert (len(page.objects), page.has_more, page.total_count) == (3, True, 4)
    assert len(list(listed(limit=3))) == 4
    assert list(sdk.objects.list_public()) == []


def test_metadata_keys_and_values(sdk: Runloop) -> None:
    sdk.objects.create(name="x", content_type="text", metadata={"team": "infra", "env": "dev"})
    gone = sdk.objects.create(name="y", content_type="text", metadata={"team": "old"})
    sdk.objects.delete(gone.id)
    assert sdk.get("/v1/objects/metadata/keys", cast_to=object) == {"keys": ["env", "team"]}
    values = sdk.get("/v1/objects/metadata/keys/team/values", cast_to=object)
    assert values == {"key": "team", "values": ["infra"]}  # deleted objects do not count


def test_high_level_upload_helpers(local_server: Any, tmp_path: Path) -> None:
    rl = high_level(local_server)
    page = tmp_path / "page.html"
    page.write_text("<p>hi</p>")
    from_file = rl.storage_object.upload_from_file(page, ttl=timedelta(minutes=5))
    info = from_file.refresh()
    assert (info.name, info.content_type, info.state) == ("page.html", "text", "READ_ONLY")
    assert from_file.download_as_text() == "<p>hi</p>"

    text = rl.storage_object.upload_from_text("héllo", name="greeting.txt", metadata={"a": "b"})
    assert (text.download_as_text(), text.refresh().content_type) == ("héllo", "text")
    data = rl.storage_object.upload_from_bytes(b"\x00\x01", name="raw", content_type="binary")
    assert data.download_as_bytes() == b"\x00\x01"
    assert data.get_download_url(duration_seconds=30).download_url.startswith(local_server.url)

    manual = rl.storage_object.create(name="later.txt", content_type="text")
    manual.upload_content(b"streamed")
    assert manual.complete().size_bytes == 8 and manual.upload_url is None
    assert {o.id for o in rl.storage_object.list()} == {from_file.id, text.id, data.id, manual.id}
    assert rl.storage_object.from_id(text.id).refresh().metadata == {"a": "b"}


def test_a_directory_uploads_as_tgz_and_mounts_unpacked(local_server: Any, tmp_path: Path) -> None:
    rl = high_level(local_server)
    (tmp_path / "proj" / "src").mkdir(parents=True)
    (tmp_path / "proj" / "src" / "main.py").write_text("print('hi')\n")
    (tmp_path / "proj" / "secret.env").write_text("X=1\n")
    skip_env = lambda info: None if info.name.endswith(".env") else info  # noqa: E731
    obj = rl.storage_object.upload_from_dir(tmp_path / "proj", ignore=skip_env)
    assert (obj.refresh().name, obj.refresh().content_type) == ("proj.tar.gz", "tgz")
    with tarfile.open(fileobj=io.BytesIO(obj.download_as_bytes())) as tar:
        assert sorted(m.name for m in tar.getmembers() if m.isfile()) == ["src/main.py"]

    mount: ObjectMount = {
        "type": "object_mount",
        "object_id": obj.id,
        "object_path": "/home/user/proj",
    }
    box = rl.devbox.create(mounts=[mount])
    assert box.cmd.exec("python3 proj/src/main.py; ls proj").stdout() == "hi\nsrc\n"
