"""Substitutes `${KIND:…}` placeholders (object, snapshot, devbox, blueprint, env) in params.

Pure: takes params (typed dataclasses, or any JSON-like value), the ids recorded so far in
this run and an environment mapping, and returns resolved params plus the sensitive values
used (so callers can scrub them from messages). It never prints or stores a resolved
`${env:}` value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from reconcile.errors import OperationError

PATTERN = re.compile(r"\$\{(object|snapshot|devbox|blueprint|env):([^}]+)\}")


class PlaceholderError(OperationError):
    """A placeholder cannot be resolved (no id recorded, or an environment variable unset)."""


@dataclass
class Resolution:
    """Resolved params and the secret values that went into them."""

    value: Any
    secrets: set[str] = field(default_factory=set)


def result_key(kind: str, name: str) -> str:
    """The key under which an action records the id it made: `object:NAME` etc."""
    return f"{kind}:{name}"


def resolve(value: Any, results: Mapping[str, str], environ: Mapping[str, str]) -> Resolution:
    """`value` with every placeholder replaced; raises PlaceholderError naming the first missing."""
    secrets: set[str] = set()
    return Resolution(_walk(value, results, environ, secrets), secrets)


def _walk(
    value: Any, results: Mapping[str, str], environ: Mapping[str, str], secrets: set[str]
) -> Any:
    if isinstance(value, str):
        return _substitute(value, results, environ, secrets)
    if is_dataclass(value) and not isinstance(value, type):
        changed = {
            f.name: _walk(getattr(value, f.name), results, environ, secrets) for f in fields(value)
        }
        return replace(value, **changed)
    if isinstance(value, tuple):
        return tuple(_walk(v, results, environ, secrets) for v in value)
    if isinstance(value, dict):
        return {k: _walk(v, results, environ, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, results, environ, secrets) for v in value]
    return value


def _substitute(
    text: str, results: Mapping[str, str], environ: Mapping[str, str], secrets: set[str]
) -> str:
    def one(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "env":
            if name not in environ:
                raise PlaceholderError(
                    f"environment variable {name} is not set (needed as ${{env:{name}}})"
                )
            found = environ[name]
            if found:
                secrets.add(found)
            return found
        key = result_key(kind, name)
        if key not in results:
            raise PlaceholderError(
                f"no id for ${{{key}}}: the action that makes {kind} {name} did not record one"
            )
        return results[key]

    return PATTERN.sub(one, text)


def references(value: Any) -> set[str]:
    """The result keys (`object:NAME`, …) that `value` refers to, `env:` excluded."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(f"{k}:{n}" for k, n in PATTERN.findall(value) if k != "env")
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            found |= references(getattr(value, f.name))
    elif isinstance(value, dict):
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= references(item)
    return found


def scrub(text: str, secrets: set[str]) -> str:
    """`text` with every secret value replaced by "(sensitive)"."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "(sensitive)")
    return text
