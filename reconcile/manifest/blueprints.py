"""Rules of the `blueprints:` section: one image source each, references, base cycles, and
reading the Dockerfiles written beside the manifest (the only file access here).

Works on the raw document like validation.py, so its problems come with the schema's own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from reconcile.manifest.messages import suggest
from reconcile.manifest.yamlsource import FieldPath, Reporter

RESERVED_METADATA_PREFIX = "rlstate."
# What an apply would substitute in a request body (apply/placeholders.py): a Dockerfile file
# must not hold it (inline text is checked with the manifest's other strings).
PLACEHOLDER_RE = re.compile(r"\$\{(object|snapshot|devbox|blueprint|env):[^}]+\}")
MAX_DOCKERFILE_BYTES = 1 << 20


def _map(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _names(doc: dict[Any, Any]) -> list[str]:
    return [name for name in _map(doc.get("blueprints")) if isinstance(name, str)]


def check_blueprints(doc: dict[Any, Any], report: Reporter) -> None:
    """Report every rule of the `blueprints:` section and of references to it that `doc` breaks."""
    declared = _names(doc)
    for name, spec in _map(doc.get("blueprints")).items():
        fields = _map(spec)
        where: FieldPath = ("blueprints", name)
        if isinstance(name, str) and name.startswith("bpt_"):
            report.key(where, "a name must not start with 'bpt_' (ids do)")
        if fields.get("dockerfile") is not None and fields.get("dockerfile_file") is not None:
            report.value(
                (*where, "dockerfile_file"), "give dockerfile or dockerfile_file, not both"
            )
        has_dockerfile = any(fields.get(k) is not None for k in ("dockerfile", "dockerfile_file"))
        if has_dockerfile and fields.get("base") is not None:
            message = "cannot be set together with a dockerfile (a build starts from one image)"
            report.value((*where, "base"), message)
        _check_reference(fields.get("base"), (*where, "base"), declared, report)
        _check_placeholders(fields, where, report)
        for key in _map(fields.get("metadata")):
            if isinstance(key, str) and key.startswith(RESERVED_METADATA_PREFIX):
                message = (
                    f"keys starting with '{RESERVED_METADATA_PREFIX}' are reserved for rlstate"
                )
                report.key((*where, "metadata", key), message)
    if declared:
        _check_devbox_references(doc, declared, report)
    _check_base_cycles(doc, report)


def _check_placeholders(fields: dict[Any, Any], where: FieldPath, report: Reporter) -> None:
    """Id placeholders in what a build request carries would be replaced at apply time
    (`${env:}` is reported with the manifest's other templates)."""
    places: list[tuple[FieldPath, Any]] = [((*where, "dockerfile"), fields.get("dockerfile"))]
    commands = fields.get("system_setup_commands")
    places += [((*where, "system_setup_commands", i), c) for i, c in enumerate(commands or [])]
    places += [((*where, "build_args", k), v) for k, v in _map(fields.get("build_args")).items()]
    for path, text in places:
        held = PLACEHOLDER_RE.search(text) if isinstance(text, str) else None
        if held and held.group(1) != "env":
            report.value(path, f"holds {held.group(0)}, which rlstate would replace")


def _check_reference(ref: Any, where: FieldPath, declared: list[str], report: Reporter) -> None:
    """A name that is not declared is an external blueprint's name, unless it looks like a typo
    of a declared one (then it is an error: an external one that close is named by its id)."""
    if not isinstance(ref, str) or ref in declared or ref.startswith("bpt_"):
        return
    hint = suggest(ref, declared)
    if hint:
        report.value(
            where,
            f"undeclared blueprint '{ref}' ({hint}); an external blueprint this close to a "
            "declared name is named by its bpt_ id",
        )


def _check_devbox_references(doc: dict[Any, Any], declared: list[str], report: Reporter) -> None:
    defaults = _map(doc.get("defaults"))
    _check_reference(defaults.get("blueprint"), ("defaults", "blueprint"), declared, report)
    for name, spec in _map(doc.get("devboxes")).items():
        ref = _map(spec).get("blueprint")
        _check_reference(ref, ("devboxes", name, "blueprint"), declared, report)


def _check_base_cycles(doc: dict[Any, Any], report: Reporter) -> None:
    """py311 on base tools on base py311 … can never be built."""
    blueprints = _map(doc.get("blueprints"))
    base = {
        name: _map(spec).get("base")
        for name, spec in blueprints.items()
        if isinstance(_map(spec).get("base"), str) and _map(spec).get("base") in blueprints
    }
    reported: set[frozenset[Any]] = set()
    for start in base:
        chain, current = [start], base[start]
        while current in base and current not in chain:
            chain.append(current)
            current = base[current]
        if current != start or frozenset(chain) in reported:
            continue
        reported.add(frozenset(chain))
        steps = " → ".join(f"blueprint.{b}" for b in [*chain, start])
        report.value(("blueprints", start, "base"), f"base cycle: {steps}")


def read_dockerfiles(data: Any, base: Path, report: Reporter) -> dict[str, str]:
    """Each blueprint's Dockerfile text (inline, or read from its file); reports missing or
    unreadable files. Blueprints without a Dockerfile are left out."""
    found: dict[str, str] = {}
    blueprints = _map(data).get("blueprints") if isinstance(data, dict) else None
    for name, spec in _map(blueprints).items():
        fields = _map(spec)
        if not isinstance(name, str):
            continue
        if isinstance(fields.get("dockerfile"), str):
            found[name] = fields["dockerfile"]
            continue
        local = fields.get("dockerfile_file")
        if not isinstance(local, str):
            continue
        where = ("blueprints", name, "dockerfile_file")
        try:
            text = _read_text(Path(os.path.normpath(base / local)))
        except FileNotFoundError:
            report.value(where, f"file not found: {local} (relative to the manifest's folder)")
        except IsADirectoryError:
            report.value(where, f"{local} is a directory, not a Dockerfile")
        except (OSError, ValueError) as error:
            why = error.strerror if isinstance(error, OSError) else str(error)
            report.value(where, f"cannot read {local}: {why or error}")
        else:
            held = PLACEHOLDER_RE.search(text)
            if held:
                report.value(where, f"{local} holds {held.group(0)}, which rlstate would replace")
            else:
                found[name] = text
    return found


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise IsADirectoryError(path)
    raw = path.read_bytes()
    if len(raw) > MAX_DOCKERFILE_BYTES:
        raise ValueError("larger than 1 MiB; a Dockerfile that large is not one")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
