"""Find and check `${env:NAME}` templates; the only manifest code that reads the environment.

Templates are allowed in `env` values (`defaults.env`, `devboxes.NAME.env`) and in the lock
backend's URL (`backend.postgres.url`, resolved by the command that locks): values taken
from the environment are secrets until proven otherwise, and env values are never echoed by the
API, so they cannot leak through metadata, names or command logs. The manifest keeps the template
text; the values are resolved when a request is built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from reconcile.manifest.scalars import ENV_REF_RE, env_references
from reconcile.manifest.yamlsource import FieldPath, Reporter

ENV_MARK = "${env:"
_WHERE_ALLOWED = (
    "${env:NAME} is only allowed in env values (defaults.env, devboxes.NAME.env) "
    "and in backend.postgres.url"
)
_BAD_REFERENCE = (
    "bad ${env:NAME} reference: NAME is letters, digits and _, not starting with a digit"
)


def collect_env(
    data: Any, environ: Mapping[str, str], report: Reporter, *, required: bool = True
) -> tuple[dict[str, str], frozenset[str]]:
    """The value of every variable the manifest refers to, and the field paths holding them.

    An unset variable is a problem only when `required`: commands that never send env values
    (retain, destroy) must run from a cron job that has no secrets in its environment.
    """
    env: dict[str, str] = {}
    sensitive: set[FieldPath] = set()
    for path, text in _strings(data, ()):
        if ENV_MARK not in text:
            continue
        if not _allowed(path):
            report.value(path, _WHERE_ALLOWED)
            continue
        if ENV_MARK in ENV_REF_RE.sub("", text):
            report.value(path, _BAD_REFERENCE)
            continue
        sensitive.add(path)
        for name in env_references(text):
            if name in environ:
                env[name] = environ[name]
            elif required and path[0] != "backend":  # the lock backend checks its own
                report.value(path, f"environment variable {name} is not set")
    sensitive |= _inherited(data, sensitive)
    return env, frozenset(report.sources.display(path) for path in sensitive)


def _allowed(path: FieldPath) -> bool:
    if path == ("backend", "postgres", "url"):
        return True
    if len(path) == 3 and path[0] == "defaults" and path[1] == "env":
        return True
    return len(path) == 4 and path[0] == "devboxes" and path[2] == "env"


def _inherited(data: Any, sensitive: set[FieldPath]) -> set[FieldPath]:
    """defaults.env.X is sensitive in every devbox that takes X from the defaults."""
    devboxes = data.get("devboxes") if isinstance(data, dict) else None
    if not isinstance(devboxes, dict):
        return set()
    found: set[FieldPath] = set()
    for path in sensitive:
        if path[0] != "defaults":
            continue
        for name, spec in devboxes.items():
            own = spec.get("env") if isinstance(spec, dict) else None
            if not (isinstance(own, dict) and path[2] in own):
                found.add(("devboxes", name, "env", path[2]))
    return found


def _strings(value: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
