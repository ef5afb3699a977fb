"""vcrpy set-up shared by cassette tests: where cassettes live, how they are scrubbed and matched.

Cassettes pin the client's wire format and let tests run with no server. Replay is the
default (record_mode "none"): an unmatched request fails the test. Setting RLSTATE_RECORD=1
switches to record_mode "all" (the cassette is rewritten from a real server).

Scrubbed before anything is written: the Authorization header, the API key anywhere in a
body, the query string (signature, expiry) of every presigned URL — in request URIs that are
not API routes and in `upload_url` / `download_url` fields of answers — and the server's
origin, replaced by a fixed placeholder so re-recording does not churn on ports.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import vcr

REPO_ROOT = Path(__file__).resolve().parent.parent
CASSETTE_ROOT = REPO_ROOT / "cassettes"
RECORD_ENV = "RLSTATE_RECORD"
REDACTED = "REDACTED"
SIGNED_URL_FIELDS = ("upload_url", "download_url")
MATCH_ON = ("method", "path", "query", "body")


def recording() -> bool:
    """True when cassettes are to be re-recorded (RLSTATE_RECORD=1)."""
    return os.environ.get(RECORD_ENV, "") == "1"


def redact_query(url: str) -> str:
    """`url` with every query value replaced by REDACTED (names kept: the shape stays pinned)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [(name, REDACTED) for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe=REDACTED)))


class Scrubber:
    """The before-record hooks for one recording: knows the secret and the origin to hide."""

    def __init__(self, secret: str | None, origin: str | None, placeholder: str) -> None:
        self.secret = secret
        self.origin = origin.rstrip("/") if origin else None
        self.placeholder = placeholder

    def _text(self, text: str) -> str:
        if self.secret:
            text = text.replace(self.secret, REDACTED)
        if self.origin:
            text = text.replace(self.origin, self.placeholder)
        return text

    def request(self, request: Any) -> Any:
        uri = self._text(request.uri)
        if not urlsplit(uri).path.startswith("/v1/"):
            uri = redact_query(uri)
        request.uri = uri
        placeholder_host = urlsplit(self.placeholder).netloc
        origin_host = urlsplit(self.origin).netloc if self.origin else None
        for name, value in list(request.headers.items()):
            if origin_host and name.lower() == "host" and value == origin_host:
                request.headers[name] = placeholder_host
            else:
                request.headers[name] = self._text(value)
        text = _as_text(request.body)
        if text is not None:
            request.body = self._text(text).encode()
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        text = _as_text(response["body"]["string"])
        if text is None:
            return response
        text = self._text(text)
        content_type = " ".join(_header(response["headers"], "content-type"))
        if "json" in content_type:
            with contextlib.suppress(ValueError):
                text = json.dumps(_redact_signed_urls(json.loads(text)))
        response["body"]["string"] = text.encode()
        for name in [n for n in response["headers"] if n.lower() == "set-cookie"]:
            del response["headers"][name]
        for name in [n for n in response["headers"] if n.lower() == "content-length"]:
            response["headers"][name] = [str(len(response["body"]["string"]))]
        return response


def _as_text(body: bytes | str | None) -> str | None:
    """The body as text, or None when it is empty or binary (left untouched)."""
    if not body:
        return None
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _header(headers: dict[str, list[str]], name: str) -> list[str]:
    return [v for k, values in headers.items() if k.lower() == name for v in values]


def _redact_signed_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: redact_query(item)
            if key in SIGNED_URL_FIELDS and isinstance(item, str)
            else _redact_signed_urls(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_signed_urls(v) for v in value]
    return value


def make_vcr(
    module: str,
    *,
    record: bool,
    secret: str | None = None,
    origin: str | None = None,
    placeholder: str = "http://localapi.test",
    root: Path = CASSETTE_ROOT,
) -> vcr.VCR:
    """A VCR writing to <root>/<module>/, replaying by default, recording when `record`."""
    scrub = Scrubber(secret, origin, placeholder)
    return vcr.VCR(
        cassette_library_dir=str(root / module),
        record_mode="all" if record else "none",
        match_on=MATCH_ON,
        filter_headers=["authorization", "cookie"],
        before_record_request=scrub.request,
        before_record_response=scrub.response,
        decode_compressed_response=True,
        drop_unused_requests=record,
    )


async def no_sleep(seconds: float) -> None:
    """Replay answers at once, so waiting between polls is pointless."""
