"""`rlstate validate` and `rlstate schema`: check a manifest, print the manifest's JSON Schema.

Reads the manifest and the files it names, nothing else: no API call, and no import of the HTTP
client, the renderer or the differ, so that validating starts fast (a test holds it to that).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from reconcile.errors import ManifestError, RlstateError
from reconcile.manifest.loader import LoadedManifest, load_manifest


def run(path: Path, json_out: bool = False) -> int:
    """Check the manifest at path; print the verdict; 0 when valid, 1 when not."""
    try:
        loaded = load_manifest(path, hash_objects=False)
    except ManifestError as error:
        _emit_invalid(path, error, json_out)
        return 1
    except RlstateError as error:
        if json_out:
            _print_json({"file": str(path), "valid": False, "error": str(error), "problems": []})
        else:
            sys.stderr.write(f"error: {error}\n")
        return 1
    if json_out:
        _print_json({"file": str(path), "valid": True, "problems": [], **_counts(loaded)})
    else:
        sys.stdout.write(f"{path}: valid ({summary(loaded)})\n")
    return 0


def summary(loaded: LoadedManifest) -> str:
    """`stack demo: 2 devboxes, 1 object, 1 snapshot series` (declared names, not replicas)."""
    counts = _counts(loaded)
    devboxes = _plural(counts["devboxes"], "devbox", "devboxes")
    objects = _plural(counts["objects"], "object", "objects")
    series = _plural(counts["snapshot_series"], "snapshot series", "snapshot series")
    blueprints = ""
    if "blueprints" in counts:
        blueprints = ", " + _plural(counts["blueprints"], "blueprint", "blueprints")
    return f"stack {counts['stack']}: {devboxes}, {objects}, {series}{blueprints}"


def print_schema() -> None:
    """Print the manifest's JSON Schema (for editors' YAML language servers)."""
    from reconcile.manifest.schema import manifest_json_schema

    _print_json(manifest_json_schema())


def _emit_invalid(path: Path, error: ManifestError, json_out: bool) -> None:
    if json_out:
        problems = [
            {"line": p.line, "column": p.column, "path": p.path, "message": p.message}
            for p in error.problems
        ]
        _print_json({"file": str(path), "valid": False, "problems": problems})
        return
    count = _plural(len(error.problems), "problem", "problems")
    sys.stderr.write(f"{error}\n{path}: invalid ({count})\n")


def _counts(loaded: LoadedManifest) -> dict[str, Any]:
    """From the checked document: the typed manifest would cost building the models."""
    data = loaded.data
    blueprints = len(data.get("blueprints") or {})
    return {
        "stack": data["stack"],
        "devboxes": len(data.get("devboxes") or {}),
        "objects": len(data.get("objects") or {}),
        "snapshot_series": len(data.get("snapshots") or {}),
        # Only for a manifest that declares blueprints, so other manifests' output stays as it was.
        **({"blueprints": blueprints} if blueprints else {}),
    }


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
