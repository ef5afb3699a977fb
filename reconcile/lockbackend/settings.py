"""Which lock backend a run uses: `--backend-url`, then RLSTATE_BACKEND_URL, then the manifest's
`backend:` block, else the lock file beside the manifest. Pure: takes values, returns values.

A URL is shown only redacted (`postgresql://rl:***@db/rl`); the password never reaches a
message. The API a run talks to is part of the lock's key (`api_origin`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

from reconcile.errors import ConfigError

ENV_VAR = "RLSTATE_BACKEND_URL"
SCHEMES = ("postgresql", "postgres")
CLOUD_URL = "https://api.runloop.ai"


@dataclass(frozen=True)
class BackendChoice:
    """A PostgreSQL URL and the setting it came from; `url` None means the local lock file."""

    url: str | None = None
    source: str = "the lock file beside the manifest"

    @property
    def shown(self) -> str:
        """The setting and its redacted URL, for messages."""
        return f"{self.source} ({redact(self.url)})" if self.url else self.source


def _parts(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        return None
    return parts


def redact(url: str) -> str:
    """The URL with its password (and any `password=` query value) replaced by ***."""
    parts = _parts(url)
    if parts is None:
        return "(a URL that cannot be parsed)"
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    query = "&".join(
        f"{k}=***" if k.lower() == "password" else f"{k}={v}" if sep else k
        for k, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_url(url: str, source: str) -> BackendChoice:
    """A BackendChoice, or ConfigError naming `source` when url is not a PostgreSQL URL."""
    parts = _parts(url)
    if parts is None or not parts.scheme:
        raise ConfigError(f"{source}: not a URL (expected postgresql://USER@HOST:PORT/DATABASE)")
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"{source}: {parts.scheme}:// is not a PostgreSQL URL; only PostgreSQL lock "
            "backends exist (postgresql://USER@HOST:PORT/DATABASE)"
        )
    return BackendChoice(url=url, source=source)


def choose(
    flag: str | None,
    environ: Mapping[str, str],
    manifest_url: str | None,
    manifest_file: Path,
) -> BackendChoice:
    """The backend this run uses; `manifest_url` is backend.postgres.url with `${env:}` resolved
    (an unset variable stays as its template)."""
    if flag:
        return check_url(flag, "--backend-url")
    if environ.get(ENV_VAR):
        return check_url(environ[ENV_VAR], ENV_VAR)
    if manifest_url is None:
        return BackendChoice()
    source = f"backend.postgres.url in {manifest_file}"
    if "${env:" in manifest_url:
        name = manifest_url.split("${env:", 1)[1].split("}", 1)[0]
        raise ConfigError(f"{source}: environment variable {name} is not set")
    return check_url(manifest_url, source)


def api_origin(api_url: str | None, api_key: str | None, local_dir: Path) -> str:
    """The API a run talks to, as saved plans name it: its URL, or `local:DIR` for the embedded
    backend (the same rule as the connection's Endpoint.origin)."""
    if api_url is None and api_key is None:
        return f"local:{local_dir.resolve()}"
    return api_url or CLOUD_URL
