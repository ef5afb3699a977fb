"""The manifest: its typed schema, and loading a YAML file into it with located problems.

Imports nothing heavier than pydantic and PyYAML; no network, no API.

The models are built with pydantic's plugin discovery switched off (as typer does for its own
adapters): discovery scans every installed distribution's entry points, which costs more than
building the models themselves, and `rlstate validate` must start fast. Manifest models are never
meant to be instrumented by plugins.
"""

import os as _os

_previous = _os.environ.get("PYDANTIC_DISABLE_PLUGINS")
_os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
try:
    from reconcile.manifest.loader import LoadedManifest, load_manifest
    from reconcile.manifest.objectfiles import ObjectFile, infer_content_type
    from reconcile.manifest.schema import Manifest, manifest_json_schema
    from reconcile.manifest.validation import replica_names
finally:
    if _previous is None:
        del _os.environ["PYDANTIC_DISABLE_PLUGINS"]
    else:
        _os.environ["PYDANTIC_DISABLE_PLUGINS"] = _previous

__all__ = [
    "LoadedManifest",
    "Manifest",
    "ObjectFile",
    "infer_content_type",
    "load_manifest",
    "manifest_json_schema",
    "replica_names",
]
