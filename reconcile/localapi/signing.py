"""Signed, expiring object URLs (HMAC-SHA256, server secret kept in the data dir); no HTTP here."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

SECRET_FILE = "url-signing-secret"
STORAGE_PREFIX = "/_storage/objects/"


class Signer:
    """Makes and checks presigned URLs for object upload (PUT) and download (GET)."""

    def __init__(self, data_dir: Path) -> None:
        path = Path(data_dir) / SECRET_FILE
        if path.exists() and path.read_bytes().strip():
            self._secret = path.read_bytes().strip()
        else:
            self._secret = secrets.token_hex(32).encode()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(self._secret)

    def _signature(self, method: str, object_id: str, expires: int) -> str:
        message = f"{method}\n{object_id}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, method: str, object_id: str, seconds: float) -> str:
        """A URL on this server allowing `method` on the object's bytes for `seconds`."""
        expires = int(time.time() + seconds)
        query = urlencode(
            {"expires": expires, "signature": self._signature(method, object_id, expires)}
        )
        return f"{base_url.rstrip('/')}{STORAGE_PREFIX}{object_id}?{query}"

    def check(
        self, method: str, object_id: str, expires: str | None, signature: str | None
    ) -> str | None:
        """None when the URL is valid, else why not."""
        if not expires or not signature or not expires.isdigit():
            return "missing or malformed signature"
        good = self._signature(method, object_id, int(expires))
        if not hmac.compare_digest(good, signature):
            return "bad signature"
        if int(expires) < time.time():
            return "the URL has expired"
        return None
