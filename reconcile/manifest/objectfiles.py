"""The local files behind a manifest's objects: find them, infer their content type, hash them.

Reads files and nothing else; paths are relative to the manifest's folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from reconcile.manifest.scalars import ContentType
from reconcile.manifest.yamlsource import Reporter

CONTENT_TYPES: tuple[str, ...] = get_args(ContentType)
TEXT_SUFFIXES = (".txt", ".html", ".css", ".js", ".json", ".xml", ".yaml", ".yml", ".md", ".csv")


@dataclass(frozen=True)
class ObjectFile:
    """An object's local file: absolute path, content hash, size and resolved content type."""

    path: Path
    sha256: str
    size: int
    content_type: str


def infer_content_type(name: str) -> str:
    """The content type the Runloop SDK's upload helpers give a file of this name."""
    lower = name.lower()
    if lower.endswith((".tgz", ".tar.gz")):
        return "tgz"
    if lower.endswith(".gz"):
        return "gzip"
    if lower.endswith(".tar"):
        return "tar"
    if lower.endswith(TEXT_SUFFIXES):
        return "text"
    return "unspecified"


def read_object_files(
    data: Any, base: Path, report: Reporter, *, hash_objects: bool
) -> dict[str, ObjectFile]:
    """Each declared object's file (hashed when asked); reports missing or unreadable files."""
    objects = data.get("objects") if isinstance(data, dict) else None
    found: dict[str, ObjectFile] = {}
    for name, spec in (objects if isinstance(objects, dict) else {}).items():
        local = spec.get("path") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not isinstance(local, str):
            continue
        declared = spec.get("content_type")
        content_type = str(declared) if declared in CONTENT_TYPES else infer_content_type(local)
        where = ("objects", name, "path")
        try:
            found[name] = _read(Path(os.path.normpath(base / local)), content_type, hash_objects)
        except OSError as error:
            report.value(where, _file_problem(local, error))
        except ValueError:
            report.value(where, f"not a usable file path: {local!r}")
    return found


def _read(path: Path, content_type: str, hash_objects: bool) -> ObjectFile:
    if path.is_dir():
        raise IsADirectoryError(path)
    if path.exists() and not path.is_file():
        raise OSError(0, "not a regular file")
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        digest = ""
        if hash_objects:
            import hashlib  # not at module level: `validate` never hashes, and starts faster

            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return ObjectFile(path=path, sha256=digest, size=size, content_type=content_type)


def _file_problem(local: str, error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return f"file not found: {local} (relative to the manifest's folder)"
    if isinstance(error, IsADirectoryError):
        return f"{local} is a directory; an object is one file (pack it with tar czf first)"
    if isinstance(error, PermissionError):
        return f"cannot read {local}: permission denied"
    return f"cannot read {local}: {error.strerror or error}"
