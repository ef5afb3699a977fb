"""The manifest: its typed schema, and loading a YAML file into it with located problems.

Imports nothing heavier than pydantic and PyYAML; no network, no API. The names below are
loaded on first use, so that checking a manifest (`rlstate validate`) never imports pydantic's
model machinery: `Manifest` and `manifest_json_schema` come from schema.py, the models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconcile.manifest.loader import LoadedManifest, load_manifest
    from reconcile.manifest.objectfiles import ObjectFile, infer_content_type
    from reconcile.manifest.schema import Manifest, manifest_json_schema
    from reconcile.manifest.validation import replica_names

_HOMES = {
    "LoadedManifest": "loader",
    "load_manifest": "loader",
    "ObjectFile": "objectfiles",
    "infer_content_type": "objectfiles",
    "Manifest": "schema",
    "manifest_json_schema": "schema",
    "replica_names": "validation",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = [
    "LoadedManifest",
    "Manifest",
    "ObjectFile",
    "infer_content_type",
    "load_manifest",
    "manifest_json_schema",
    "replica_names",
]
