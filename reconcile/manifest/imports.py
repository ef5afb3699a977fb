"""Whole-manifest rules of `import:` entries: what each adopts into, its id, no duplicates. Pure.

Works on the raw document like validation.py (a part of the wrong shape is the schema's to
report). An entry names a declared resource (`to`) and the live one to adopt: `id: dbx_…` for
a devbox, `id: obj_…` for an object, `id: bpt_…` for a blueprint (a build), `devbox: dbx_…` for a
snapshot series (its snapshots).
"""

from __future__ import annotations

from typing import Any

from reconcile.manifest.messages import suggest
from reconcile.manifest.yamlsource import FieldPath, Reporter

SECTIONS = {
    "devbox": "devboxes",
    "object": "objects",
    "snapshot": "snapshots",
    "blueprint": "blueprints",
}
ID_FIELD = {
    "devbox": ("id", "dbx_"),
    "object": ("id", "obj_"),
    "snapshot": ("devbox", "dbx_"),
    "blueprint": ("id", "bpt_"),
}


def _map(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def check_imports(doc: dict[Any, Any], report: Reporter) -> None:
    """Report every `import:` entry that names no declared resource, carries the wrong id (or a
    field its kind does not take), or repeats another entry's target or live id."""
    targets: dict[str, int] = {}
    ids: dict[str, dict[str, int]] = {kind: {} for kind in SECTIONS}  # a devbox and its series
    for i, entry in enumerate(_list(doc.get("import"))):
        item = _map(entry)
        to = item.get("to")
        if not isinstance(to, str) or "." not in to:
            continue
        kind, _, name = to.partition(".")
        if kind not in SECTIONS:
            continue
        _check_target(doc, kind, name, ("import", i, "to"), report)
        _check_id(doc, kind, name, item, i, report)
        _once(targets, to, ("import", i, "to"), "is imported more than once", report)
        field, _ = ID_FIELD[kind]
        live_id = item.get(field)
        if isinstance(live_id, str):
            _once(ids[kind], live_id, ("import", i, field), "is imported more than once", report)


def _check_target(
    doc: dict[Any, Any], kind: str, name: str, where: FieldPath, report: Reporter
) -> None:
    section = _map(doc.get(SECTIONS[kind]))
    if name not in section:
        declared = [n for n in section if isinstance(n, str)]
        hint = suggest(name, declared)
        known = hint or (f"declared: {', '.join(declared[:8])}" if declared else "none declared")
        report.value(where, f"{kind}.{name} is not declared in this manifest ({known})")
    elif kind == "devbox" and _map(section[name]).get("replicas") is not None:
        report.value(where, f"devbox.{name} has replicas; only a single devbox can be adopted")


def _check_id(
    doc: dict[Any, Any], kind: str, name: str, item: dict[Any, Any], i: int, report: Reporter
) -> None:
    field, prefix = ID_FIELD[kind]
    other = "devbox" if field == "id" else "id"
    if other in item and item[other] is not None:
        report.value(
            ("import", i, other), f"an import into a {kind} takes `{field}`, not `{other}`"
        )
    value = item.get(field)
    if value is None:
        report.value(("import", i, "to"), f"an import into a {kind} needs `{field}: {prefix}…`")
        return
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) <= len(prefix):
        report.value(("import", i, field), f"expected a {prefix}… id, got {value!r}")
        return
    if kind == "snapshot":
        _check_series_devbox(doc, name, value, i, report)


def _check_series_devbox(
    doc: dict[Any, Any], series: str, devbox_id: str, i: int, report: Reporter
) -> None:
    """The devbox whose snapshots join a series is the series' own devbox where that is known."""
    ref = _map(_map(doc.get("snapshots")).get(series)).get("devbox")
    if not isinstance(ref, str):
        return
    source: Any = ref
    if not ref.startswith("dbx_"):
        entries = [_map(e) for e in _list(doc.get("import"))]
        source = next((e.get("id") for e in entries if e.get("to") == f"devbox.{ref}"), None)
    if isinstance(source, str) and source != devbox_id:
        report.value(
            ("import", i, "devbox"),
            f"snapshot.{series} snapshots devbox {ref} ({source}), not {devbox_id}",
        )


def _once(seen: dict[str, int], value: str, where: FieldPath, message: str, r: Reporter) -> None:
    if value in seen:
        r.value(where, f"{value} {message} (also import[{seen[value]}])")
    else:
        seen[value] = int(where[1])
