"""Rules that need the whole manifest: references, cycles, replicas, moves, retention, lifecycle.

Works on the raw document (plain dicts and lists), so that these problems are reported together
with the schema's own even when parts of the document have the wrong shape; a part that is not
the expected shape is skipped here (the schema check reports it). Pure: no files, no environment.
"""

from __future__ import annotations

import re
from typing import Any

from reconcile.manifest.imports import check_imports
from reconcile.manifest.messages import suggest
from reconcile.manifest.scalars import parse_duration
from reconcile.manifest.schema_check import field_names
from reconcile.manifest.yamlsource import FieldPath, Reporter

ID_PREFIXES = ("obj_", "snp_", "dbx_", "bpt_")
KEEP_COUNTS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
IGNORABLE_FIELDS = tuple(name for name in field_names(("devboxes", "")) if name != "lifecycle")
MAX_KEEP_ALIVE_SECONDS = 48 * 3600
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_METADATA_PREFIX = "rlstate."
REPLICA_NAME_RE = re.compile(r"^(.+)-(0|[1-9][0-9]*)$")
KIND_SECTIONS = {"devbox": "devboxes", "object": "objects", "snapshot": "snapshots"}


def as_map(value: Any) -> dict[Any, Any]:
    """value when it is a mapping, else an empty one (the schema check reports the shape)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def replica_names(name: str, replicas: int | None) -> list[str]:
    """The devbox names a declaration stands for: itself, or NAME-0 … NAME-(replicas-1)."""
    return [name] if replicas is None else [f"{name}-{i}" for i in range(replicas)]


def check_manifest(data: Any, report: Reporter) -> None:
    """Report every whole-manifest rule that data breaks."""
    doc = as_map(data)
    check_version(doc, report)
    check_names(doc, report)
    check_references(doc, report)
    check_image_sources(doc, report)
    check_cycles(doc, report)
    check_series(doc, report)
    check_replicas(doc, report)
    check_moved(doc, report)
    check_ignore_changes(doc, report)
    check_devbox_fields(doc, report)
    check_metadata(doc, report)
    check_imports(doc, report)


def _replicas(spec: Any) -> int | None:
    count = as_map(spec).get("replicas")
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


def _listed(names: list[str], most: int = 8) -> str:
    return ", ".join(names[:most]) + (f", … ({len(names)} in all)" if len(names) > most else "")


def _declared(doc: dict[Any, Any], section: str) -> list[str]:
    return [name for name in as_map(doc.get(section)) if isinstance(name, str)]


def _undeclared(kind: str, ref: str, declared: list[str], id_prefix: str) -> str:
    hint = suggest(ref, declared)
    if hint:
        return f"undeclared {kind} '{ref}' ({hint})"
    known = f"declared: {_listed(declared)}" if declared else "none are declared"
    return f"undeclared {kind} '{ref}' ({known}; or use an {id_prefix}… id)"


def check_version(doc: dict[Any, Any], report: Reporter) -> None:
    """`version` is the integer 1: the schema's literal check also lets `true` and `1.0` pass."""
    version = doc.get("version")
    if isinstance(version, bool | float):
        written = report.sources.texts.get(("version",)) or str(version)
        report.value(("version",), f"must be 1, the only manifest version (got {written})")


def check_names(doc: dict[Any, Any], report: Reporter) -> None:
    """Logical names must not look like ids, which references would take for external ones."""
    for section in KIND_SECTIONS.values():
        for name in _declared(doc, section):
            if name.startswith(ID_PREFIXES):
                report.key((section, name), f"a name must not start with '{name[:4]}' (ids do)")


def check_references(doc: dict[Any, Any], report: Reporter) -> None:
    """Mounts name objects, from_snapshot names series, series name devboxes of this manifest."""
    objects, series = _declared(doc, "objects"), _declared(doc, "snapshots")
    devboxes = as_map(doc.get("devboxes"))
    for name, spec in devboxes.items():
        for i, mount in enumerate(as_list(as_map(spec).get("mounts"))):
            ref = as_map(mount).get("object")
            if isinstance(ref, str) and not ref.startswith("obj_") and ref not in objects:
                where = ("devboxes", name, "mounts", i, "object")
                report.value(where, _undeclared("object", ref, objects, "obj_"))
        ref = as_map(spec).get("from_snapshot")
        if isinstance(ref, str) and not ref.startswith("snp_") and ref not in series:
            report.value(
                ("devboxes", name, "from_snapshot"),
                _undeclared("snapshot series", ref, series, "snp_"),
            )
    for name, spec in as_map(doc.get("snapshots")).items():
        ref = as_map(spec).get("devbox")
        if not isinstance(ref, str) or ref.startswith("dbx_") or ref in devboxes:
            continue
        owner = _replica_owner(ref, devboxes)
        message = (
            f"'{ref}' is a replica of devbox '{owner}'; a series needs a devbox without replicas"
            if owner
            else _undeclared("devbox", ref, _declared(doc, "devboxes"), "dbx_")
        )
        report.value(("snapshots", name, "devbox"), message)


def _replica_of(name: Any, devboxes: dict[Any, Any]) -> tuple[str, int, int] | None:
    """(devbox, index, replicas) when name is NAME-i of a devbox with replicas, else None."""
    match = REPLICA_NAME_RE.match(name) if isinstance(name, str) else None
    if match is None:
        return None
    base, index = match.group(1), int(match.group(2))
    count = _replicas(devboxes.get(base))
    return (base, index, count) if count is not None and index < count else None


def _replica_owner(ref: str, devboxes: dict[Any, Any]) -> str | None:
    found = _replica_of(ref, devboxes)
    return found[0] if found else None


def check_image_sources(doc: dict[Any, Any], report: Reporter) -> None:
    """A devbox starts from one image: a blueprint or a snapshot, not both."""
    for name, spec in as_map(doc.get("devboxes")).items():
        fields = as_map(spec)
        if fields.get("from_snapshot") is not None and fields.get("blueprint") is not None:
            message = "cannot be set together with blueprint (a devbox starts from one image)"
            report.value(("devboxes", name, "from_snapshot"), message)


def check_cycles(doc: dict[Any, Any], report: Reporter) -> None:
    """devbox A from series S of devbox B from series T of devbox A … can never be created."""
    devboxes, series = as_map(doc.get("devboxes")), as_map(doc.get("snapshots"))
    source: dict[Any, tuple[str, Any]] = {}
    for name, spec in devboxes.items():
        ref = as_map(spec).get("from_snapshot")
        if isinstance(ref, str) and ref in series:
            target = as_map(series[ref]).get("devbox")
            if isinstance(target, str) and target in devboxes:
                source[name] = (ref, target)
    reported: set[frozenset[Any]] = set()
    for start in source:
        chain, current = [start], source[start][1]
        while current in source and current not in chain:
            chain.append(current)
            current = source[current][1]
        if current != start or frozenset(chain) in reported:
            continue
        reported.add(frozenset(chain))
        steps = " → ".join(f"devbox.{d} → snapshot.{source[d][0]}" for d in chain)
        message = f"from_snapshot cycle: {steps} → devbox.{start}"
        report.value(("devboxes", start, "from_snapshot"), message)


def check_series(doc: dict[Any, Any], report: Reporter) -> None:
    """A series snapshots one devbox, keeps something, and takes snapshots at a positive pace."""
    devboxes = as_map(doc.get("devboxes"))
    for name, spec in as_map(doc.get("snapshots")).items():
        fields = as_map(spec)
        target = fields.get("devbox")
        if isinstance(target, str) and _replicas(devboxes.get(target)) is not None:
            message = f"devbox '{target}' has replicas; a series needs a devbox without replicas"
            report.value(("snapshots", name, "devbox"), message)
        keep = fields.get("keep")
        if isinstance(keep, dict) and _keeps_nothing(keep):
            rules = ", ".join((*KEEP_COUNTS, "within"))
            report.value(("snapshots", name, "keep"), f"keeps nothing: set one of {rules}")
        _check_positive(("snapshots", name, "every"), fields.get("every"), report)
    for name, spec in as_map(doc.get("objects")).items():
        _check_positive(("objects", name, "ttl"), as_map(spec).get("ttl"), report)


def _keeps_nothing(keep: dict[Any, Any]) -> bool:
    for rule in KEEP_COUNTS:
        count = keep.get(rule, 0)
        if not isinstance(count, int) or isinstance(count, bool) or count != 0:
            return False
    within = keep.get("within")
    return within is None or _seconds(within) == 0


def _seconds(value: Any) -> float | None:
    try:
        return parse_duration(value).total_seconds()
    except ValueError:
        return None


def _check_positive(path: FieldPath, value: Any, report: Reporter) -> None:
    if value is not None and _seconds(value) == 0:
        report.value(path, "must be longer than 0s")


def check_replicas(doc: dict[Any, Any], report: Reporter) -> None:
    """NAME-0 … NAME-(n-1) of a devbox with replicas must not be the name of another devbox."""
    devboxes = as_map(doc.get("devboxes"))
    for name, spec in devboxes.items():
        found = _replica_of(name, devboxes) if _replicas(spec) is None else None
        if found is not None:
            base, index, count = found
            message = f"collides with replica {index} of devbox '{base}' (replicas: {count})"
            report.key(("devboxes", name), message)
        replicas = _replicas(spec)
        if replicas is not None and isinstance(name, str) and len(f"{name}-{replicas - 1}") > 63:
            message = f"replica names like '{name}-{replicas - 1}' are longer than 63 characters"
            report.value(("devboxes", name, "replicas"), message)


def check_moved(doc: dict[Any, Any], report: Reporter) -> None:
    """A move renames a resource: `from` is gone from the manifest, `to` is declared, once each."""
    seen_from: dict[str, int] = {}
    seen_to: dict[str, int] = {}
    for i, entry in enumerate(as_list(doc.get("moved"))):
        old, new = as_map(entry).get("from"), as_map(entry).get("to")
        old_kind, old_name = _address(old)
        new_kind, new_name = _address(new)
        if old_kind and old_name in as_map(doc.get(KIND_SECTIONS[old_kind])):
            report.value(("moved", i, "from"), f"{old} is still declared; remove it or this move")
        if new_kind and new_name not in as_map(doc.get(KIND_SECTIONS[new_kind])):
            report.value(("moved", i, "to"), f"{new} is not declared in this manifest")
        if old_kind and new_kind and old_kind != new_kind:
            report.value(("moved", i, "to"), f"cannot move {old} to {new}: the kinds differ")
        elif old is not None and old == new:
            report.value(("moved", i, "to"), "is the same as from")
        _check_once(seen_from, old, ("moved", i, "from"), "is moved more than once", report)
        _check_once(seen_to, new, ("moved", i, "to"), "is the target of more than one move", report)


def _address(value: Any) -> tuple[str, str]:
    if not isinstance(value, str) or "." not in value:
        return "", ""
    kind, _, name = value.partition(".")
    return (kind, name) if kind in KIND_SECTIONS else ("", "")


def _check_once(
    seen: dict[str, int], value: Any, path: FieldPath, message: str, report: Reporter
) -> None:
    if not isinstance(value, str):
        return
    if value in seen:
        report.value(path, f"{value} {message} (also moved[{seen[value]}])")
    else:
        seen[value] = path[1]


def check_ignore_changes(doc: dict[Any, Any], report: Reporter) -> None:
    """ignore_changes names fields of a devbox."""
    for name, spec in as_map(doc.get("devboxes")).items():
        lifecycle = as_map(as_map(spec).get("lifecycle"))
        for i, field in enumerate(as_list(lifecycle.get("ignore_changes"))):
            if isinstance(field, str) and field not in IGNORABLE_FIELDS:
                hint = suggest(field, list(IGNORABLE_FIELDS))
                allowed = hint or f"allowed: {', '.join(IGNORABLE_FIELDS)}"
                path = ("devboxes", name, "lifecycle", "ignore_changes", i)
                report.value(path, f"unknown devbox field '{field}' ({allowed})")


def _devbox_like(doc: dict[Any, Any]) -> list[tuple[FieldPath, dict[Any, Any]]]:
    """defaults and every devbox: the places devbox settings are written."""
    found: list[tuple[FieldPath, dict[Any, Any]]] = [(("defaults",), as_map(doc.get("defaults")))]
    for name, spec in as_map(doc.get("devboxes")).items():
        found.append((("devboxes", name), as_map(spec)))
    return found


def check_devbox_fields(doc: dict[Any, Any], report: Reporter) -> None:
    """Values the API would refuse: keep_alive over 48h, zero timers, env names, repeated mounts."""
    for where, fields in _devbox_like(doc):
        keep_alive = _seconds(fields.get("keep_alive"))
        if keep_alive is not None and keep_alive > MAX_KEEP_ALIVE_SECONDS:
            report.value((*where, "keep_alive"), "must be at most 48h (the API's limit)")
        _check_positive((*where, "keep_alive"), fields.get("keep_alive"), report)
        _check_positive((*where, "idle", "after"), as_map(fields.get("idle")).get("after"), report)
        for key in as_map(fields.get("env")):
            if isinstance(key, str) and not ENV_NAME_RE.match(key):
                report.key((*where, "env", key), "not a valid environment variable name")
        for section in ("setup", "launch_commands"):
            for i, command in enumerate(as_list(fields.get(section))):
                if isinstance(command, str) and not command.strip():
                    report.value((*where, section, i), "is an empty command")
        _check_mount_paths(where, fields, report)


def _check_mount_paths(where: FieldPath, fields: dict[Any, Any], report: Reporter) -> None:
    first: dict[str, int] = {}
    for i, mount in enumerate(as_list(fields.get("mounts"))):
        target = as_map(mount).get("path")
        if not isinstance(target, str):
            continue
        normal = target.rstrip("/") or "/"
        if normal in first:
            message = f"'{target}' is already mounted by mounts[{first[normal]}]"
            report.value((*where, "mounts", i, "path"), message)
        else:
            first[normal] = i


def check_metadata(doc: dict[Any, Any], report: Reporter) -> None:
    """Metadata keys starting with `rlstate.` are rlstate's own ownership records."""
    places = [(where, fields) for where, fields in _devbox_like(doc)]
    places += [(("objects", n), as_map(s)) for n, s in as_map(doc.get("objects")).items()]
    for where, fields in places:
        for key in as_map(fields.get("metadata")):
            if isinstance(key, str) and key.startswith(RESERVED_METADATA_PREFIX):
                message = (
                    f"keys starting with '{RESERVED_METADATA_PREFIX}' are reserved for rlstate"
                )
                report.key((*where, "metadata", key), message)
