"""Read a manifest file into a checked, typed LoadedManifest, or fail with every problem at once.

The one entry point (`load_manifest`) reads the file, the object files it names and the
environment variables it refers to; everything else it calls is pure. No network, no API.
Checking imports no pydantic (see schema_check.py): the typed Manifest is built from the checked
document when a command first asks for it, so `rlstate validate` never builds the models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from reconcile.errors import ManifestError, ManifestProblem, UserError
from reconcile.manifest.blueprints import check_blueprints, read_dockerfiles
from reconcile.manifest.messages import check_schema
from reconcile.manifest.objectfiles import ObjectFile, read_object_files
from reconcile.manifest.scalars import resolve_env_template
from reconcile.manifest.templates import collect_env
from reconcile.manifest.validation import check_manifest
from reconcile.manifest.yamlsource import Reporter, offset_position, parse_yaml

if TYPE_CHECKING:
    from reconcile.manifest.schema import Manifest


@dataclass(frozen=True)
class LoadedManifest:
    """A valid manifest with what was read around it: its file, hash, env values, object files
    and Dockerfiles (blueprint name → text). `data` is the checked document as YAML gave it."""

    data: dict[str, Any] = field(repr=False)
    path: Path
    raw: bytes = field(repr=False)
    env: Mapping[str, str] = field(repr=False)
    sensitive: frozenset[str]
    objects: Mapping[str, ObjectFile]
    need_env: bool = True
    dockerfiles: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def manifest(self) -> Manifest:
        """The typed manifest (its models are built on first use: validate never needs them)."""
        from reconcile.manifest.schema import Manifest

        return Manifest.model_validate(self.data, strict=True)

    @cached_property
    def sha256(self) -> str:
        """Hex sha256 of the manifest file's bytes (hashlib is loaded on first use only)."""
        import hashlib

        return hashlib.sha256(self.raw).hexdigest()

    def resolve(self, template: str) -> str:
        """template with each `${env:NAME}` replaced by its value.

        KeyError if NAME was not read at load; a variable that was unset at a load that did not
        need values (`need_env=False`) stays as its template text."""
        if self.need_env:
            return resolve_env_template(template, self.env)
        return resolve_env_template(template, _KeepUnset(self.env))


class _KeepUnset(dict[str, str]):
    """Environment values where a name that was not set reads as its own `${env:NAME}`."""

    def __missing__(self, name: str) -> str:
        return "${env:" + name + "}"


def load_manifest(
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    hash_objects: bool = True,
    need_env: bool = True,
) -> LoadedManifest:
    """Read, parse and check a manifest; raise ManifestError carrying every problem found.

    A file that cannot be read at all raises UserError (one line, no position). With
    `need_env=False` an unset `${env:NAME}` is not a problem (for commands that send no env).
    """
    file = str(path)
    raw = _read_bytes(path)
    text = _decode(raw, file)
    parsed = parse_yaml(text, file)
    if not parsed.readable:
        raise ManifestError(parsed.problems)
    report = Reporter(
        file, parsed.sources, list(parsed.problems), end=offset_position(text, len(text))
    )
    fits = check_schema(parsed.data, report)
    check_manifest(parsed.data, report)
    check_blueprints(parsed.data if isinstance(parsed.data, dict) else {}, report)
    environ = os.environ if environ is None else environ
    env, sensitive = collect_env(parsed.data, environ, report, required=need_env)
    base = path.absolute().parent
    objects = read_object_files(parsed.data, base, report, hash_objects=hash_objects)
    dockerfiles = read_dockerfiles(parsed.data, base, report)
    if not fits or report.problems:
        raise ManifestError(_without_echoes(report.problems, parsed.problems))
    return LoadedManifest(
        data=parsed.data,
        path=path.absolute(),
        raw=raw,
        env=MappingProxyType(env),
        sensitive=sensitive,
        objects=MappingProxyType(objects),
        need_env=need_env,
        dockerfiles=MappingProxyType(dockerfiles),
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a manifest file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read: {error.strerror or error}") from None


def _decode(raw: bytes, file: str) -> str:
    """UTF-8 text (a leading byte-order mark dropped); ManifestError at the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        good = raw[: error.start].decode("utf-8-sig", errors="replace")
        where = offset_position(good, len(good))
        message = "not UTF-8 text (a manifest must be UTF-8)"
        raise ManifestError(
            [ManifestProblem(file, where.line, where.column, "", message)]
        ) from None


def _without_echoes(
    problems: list[ManifestProblem], from_yaml: list[ManifestProblem]
) -> list[ManifestProblem]:
    """Drop repeats, and later complaints about a value the YAML reading already rejected."""
    rejected = {(p.line, p.column, p.path) for p in from_yaml}
    kept = [p for p in problems if p in from_yaml or (p.line, p.column, p.path) not in rejected]
    return list(dict.fromkeys(kept))


__all__ = ["LoadedManifest", "ObjectFile", "load_manifest"]
