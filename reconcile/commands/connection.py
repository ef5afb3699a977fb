"""Where rlstate talks to: the cloud, a given URL, or the embedded local backend; no API calls.

With neither a key nor a URL, the local backend is started in-process on a loopback port for the
duration of the command (its data persists in the local data folder). One process at a time uses
one data folder: a second waits for the first (the folder holds one SQLite store).
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from reconcile import signals
from reconcile.errors import (
    ApiAuthError,
    ApiConnectionError,
    ApiError,
    ConfigError,
    LocalBackendError,
)

if TYPE_CHECKING:
    from reconcile.localapi.web.server import RunningServer

CLOUD_URL = "https://api.runloop.ai"


def default_local_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rlstate" / "local"


def _check_url(url: str) -> None:
    """ConfigError unless url is an http(s) URL with a host."""
    from urllib.parse import urlsplit

    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--api-url must start with http:// or https:// (got {url!r})")
    try:
        host = urlsplit(url).hostname
        urlsplit(url).port  # noqa: B018 (a bad port raises here)
    except ValueError as error:
        raise ConfigError(f"--api-url {url!r} is not a valid URL: {error}") from None
    if not host:
        raise ConfigError(f"--api-url {url!r} has no host (e.g. https://api.runloop.ai)")


@dataclass(frozen=True)
class ConnectionSettings:
    """The API URL, key and local data folder chosen by flags and environment."""

    api_url: str | None
    api_key: str | None
    local_dir: Path

    @classmethod
    def from_flags(
        cls, *, api_url: str | None, api_key: str | None, local_dir: Path | None
    ) -> ConnectionSettings:
        url = api_url or os.environ.get("RUNLOOP_BASE_URL") or None
        key = api_key or os.environ.get("RUNLOOP_API_KEY") or None
        folder = local_dir or Path(os.environ.get("RLSTATE_LOCAL_DIR") or default_local_dir())
        if url is not None:
            _check_url(url)
        return cls(api_url=url.rstrip("/") if url else None, api_key=key, local_dir=folder)

    @property
    def embedded(self) -> bool:
        return self.api_url is None and self.api_key is None


@dataclass(frozen=True)
class Endpoint:
    """A reachable API: its base URL, the key to send, and a label for messages (never the key).

    `origin` names the API across runs, for saved plans: the URL, or `local:DIR` for the
    embedded backend (whose URL is a new loopback port every run)."""

    url: str
    key: str | None
    label: str
    origin: str = ""


def _local_token(folder: Path) -> str | None:
    token_file = folder / "token"
    try:
        return token_file.read_text().strip() or None
    except OSError:
        return None


def _open_lock(folder: Path) -> IO[str]:
    """The data folder's lock file, or ConfigError saying why the folder cannot be used."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return open(folder / "embedded.lock", "a+")  # closed by the caller
    except OSError as error:
        reason = "it is a file" if folder.is_file() else error.strerror or str(error)
        raise ConfigError(
            f"cannot use {folder} as the local backend's data folder: {reason} "
            "(choose another with --local-dir or RLSTATE_LOCAL_DIR)"
        ) from None


@contextmanager
def _data_dir_lock(folder: Path) -> Iterator[None]:
    with _open_lock(folder) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.stderr.write(f"waiting for another rlstate using the local backend in {folder}\n")
            with signals.interruptible():  # a signal ends the wait (the file closes with it)
                fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _explained(error: ApiError, url: str, key_source: str | None) -> ApiError:
    """The error again, saying which URL could not be reached or where the refused key came from."""
    if isinstance(error, ApiConnectionError):
        hint = f"is the API at {url} up? (set by --api-url or RUNLOOP_BASE_URL)"
    elif key_source is None:
        hint = f"no API key was sent to {url}: set RUNLOOP_API_KEY or pass --api-key"
    elif key_source.startswith("the token in "):
        hint = (
            f"{url} refused {key_source}; for a server run with `rlstate local serve "
            "--data-dir DIR`, pass --local-dir DIR or set RUNLOOP_API_KEY to DIR/token's content"
        )
    else:
        hint = f"{url} refused the API key from {key_source}"
    explained = type(error)(
        f"{error.detail}; {hint}",
        status=error.status,
        method=error.method,
        path=error.path,
        retry_after=error.retry_after,
    )
    return explained


@contextmanager
def connect(settings: ConnectionSettings, *, quiet: bool = False) -> Iterator[Endpoint]:
    """Yield an endpoint to talk to, starting the embedded backend when none is configured."""
    if not settings.embedded:
        url = settings.api_url or CLOUD_URL
        key, source = settings.api_key, "--api-key or RUNLOOP_API_KEY"
        if key is None and url.startswith(("http://127.", "http://localhost", "http://[::1]")):
            key, source = _local_token(settings.local_dir), f"the token in {settings.local_dir}"
        try:
            yield Endpoint(url=url, key=key, label=url, origin=url)
        except (ApiConnectionError, ApiAuthError) as error:
            raise _explained(error, url, source if key else None) from error
        return
    from reconcile.localapi import LocalConfig, start_in_thread

    with _data_dir_lock(settings.local_dir):
        signals.check()
        try:
            server = start_in_thread(LocalConfig(data_dir=settings.local_dir, port=0))
        except OSError as error:
            signals.check()  # it failed because we were interrupted: say that instead
            raise LocalBackendError(f"could not start the local backend: {error}") from None
        try:
            signals.check()  # one that came while it started: stop it again, start nothing
        except BaseException:
            _stop(server)
            raise
        if not quiet:
            sys.stderr.write(
                f"rlstate: no API key set; using the embedded local backend "
                f"({settings.local_dir})\n"
            )
        try:
            yield Endpoint(
                url=server.url,
                key=server.token,
                label=f"local ({settings.local_dir})",
                origin=f"local:{settings.local_dir.resolve()}",
            )
        finally:
            _stop(server)


def _stop(server: RunningServer) -> None:
    """Stop the embedded backend; a signal while it stops ends the wait for its connections."""
    with signals.listening(lambda _signum: server.abort()):
        server.stop()
