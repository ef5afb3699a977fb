"""The cassette hooks keep secrets out and make replay exact; checked on a fake upload exchange.

The "server" is an httpx.MockTransport (vcrpy records at the transport, so it records this
exchange the same way it records a real server's).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from api_support import KEY, run
from cassette_support import REDACTED, make_vcr, redact_query
from vcr.errors import CannotOverwriteExistingCassetteException

from reconcile.api import RetryPolicy, RunloopClient

ORIGIN = "http://127.0.0.1:40123"
SIGNATURE = "f00dfeedcafe0123456789abcdef"


def fake_server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/objects":
        return httpx.Response(
            200,
            json={
                "id": "obj_1",
                "name": "tool.tgz",
                "state": "UPLOADING",
                "content_type": "tgz",
                "create_time_ms": 1,
                "upload_url": f"{ORIGIN}/_storage/objects/obj_1?expires=99&signature={SIGNATURE}",
            },
        )
    if request.url.path == "/_storage/objects/obj_1":
        return httpx.Response(200)
    return httpx.Response(404, json={"message": f"unknown; your key was {KEY}"})


def must_not_be_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"replay reached the transport for {request.url}")


async def scenario(base_url: str, transport: httpx.MockTransport) -> None:
    retry = RetryPolicy(max_attempts=1)
    async with RunloopClient(base_url, KEY, transport=transport, retry=retry) as client:
        obj = await client.create_object(name="tool.tgz", content_type="tgz")
        assert obj.upload_url is not None
        await client.upload_object_bytes(obj.upload_url, b"\x1f\x8b binary \xff")
        with pytest.raises(Exception, match="unknown"):
            await client.get_object("obj_missing")


def test_recorded_cassette_has_no_secrets_and_replays_without_a_server(tmp_path: Path) -> None:
    recorder = make_vcr("m", record=True, secret=KEY, origin=ORIGIN, root=tmp_path)
    with recorder.use_cassette("upload.yaml"):
        run(scenario(ORIGIN, httpx.MockTransport(fake_server)))
    text = (tmp_path / "m" / "upload.yaml").read_text()
    for secret in (KEY, SIGNATURE, "Bearer", "authorization", "40123"):
        assert secret.lower() not in text.lower(), secret
    assert "http://localapi.test/_storage/objects/obj_1?expires=REDACTED&signature=REDACTED" in text

    replayer = make_vcr("m", record=False, root=tmp_path)
    with replayer.use_cassette("upload.yaml") as cassette:
        run(scenario("http://localapi.test", httpx.MockTransport(must_not_be_called)))
        assert cassette.all_played


def test_replay_refuses_a_request_that_differs_in_body(tmp_path: Path) -> None:
    recorder = make_vcr("m", record=True, secret=KEY, origin=ORIGIN, root=tmp_path)
    with recorder.use_cassette("one.yaml"):
        run(scenario(ORIGIN, httpx.MockTransport(fake_server)))

    async def other() -> None:
        transport = httpx.MockTransport(must_not_be_called)
        async with RunloopClient("http://localapi.test", KEY, transport=transport) as client:
            await client.create_object(name="other.tgz", content_type="tgz")

    replayer = make_vcr("m", record=False, root=tmp_path)
    with (
        replayer.use_cassette("one.yaml"),
        pytest.raises(CannotOverwriteExistingCassetteException, match="body differs"),
    ):
        run(other())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/p?sig=abc&exp=1", f"http://h/p?sig={REDACTED}&exp={REDACTED}"),
        ("http://h/p", "http://h/p"),
    ],
    ids=["with-query", "without-query"],
)
def test_redact_query(url: str, expected: str) -> None:
    assert redact_query(url) == expected
