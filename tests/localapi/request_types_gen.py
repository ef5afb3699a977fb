"""Builds reconcile/localapi/web/request_types.json, the JSON types of every request field and
query parameter of the routes the local server answers (emulated or refused), from Runloop's OpenAPI
description. The server reads only the generated table; test_strict_input.py checks it is
current where the description is present.

    python tests/localapi/request_types_gen.py   # rewrites the table
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conformance_support import OFF_SPEC_ALIASES, spec_dict

from reconcile.localapi.web.routes import unsupported
from reconcile.localapi.web.routes.table import STORAGE, resource_routes

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "reconcile" / "localapi" / "web" / "request_types.json"
SPEC = REPO.parent / "shared" / "runloop-openapi" / "runloop-api-openapi.yml"
PRIMITIVES = {"string": "s", "integer": "i", "number": "n", "boolean": "b"}
MAX_DEPTH = 6


def _shape(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", template)


def served() -> set[tuple[str, str]]:
    """(method, path shape) of every route the server has, refusals included."""
    routes = [r for r in resource_routes() if r not in STORAGE]
    return {(m, _shape(r.path)) for r in routes for m in r.methods or () if m != "HEAD"}


def _refused(method: str, template: str) -> bool:
    """Under a resource the server refuses as a whole ({rest:path} routes)."""
    return any(
        template == prefix or template.startswith(prefix + "/") for prefix in unsupported._RESOURCES
    )


class _Types:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.schemas = doc["components"]["schemas"]

    def node(self, schema: dict[str, Any], depth: int = 0) -> Any:
        """A compact type: "s"/"i"/"n"/"b"/"*", {"o": fields, "v": values}, or {"a": items}."""
        schema = self._resolve(schema)
        if depth > MAX_DEPTH:
            return "*"
        for key in ("oneOf", "anyOf"):
            if key in schema:
                kinds = {json.dumps(self.node(s, depth + 1)) for s in schema[key]}
                return json.loads(kinds.pop()) if len(kinds) == 1 else "*"
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            kind = kinds[0] if len(kinds) == 1 else None
        if kind in PRIMITIVES:
            return PRIMITIVES[kind]
        if kind == "array":
            return {"a": self.node(schema.get("items") or {}, depth + 1)}
        if kind == "object" or "properties" in schema:
            out: dict[str, Any] = {
                "o": {
                    name: self.node(prop, depth + 1)
                    for name, prop in sorted((schema.get("properties") or {}).items())
                }
            }
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                out["v"] = self.node(extra, depth + 1)
            return out
        return "*"

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while True:
            if "$ref" in schema:
                schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
            elif "allOf" in schema and len(schema["allOf"]) == 1:
                schema = schema["allOf"][0]
            else:
                return schema


def build(doc: dict[str, Any]) -> dict[str, Any]:
    """The table: "METHOD /path/{param}" -> {"body": node, "query": {name: node}}."""
    types = _Types(doc)
    routes = served()
    aliases = {spec: ours for ours, spec in OFF_SPEC_ALIASES.items()}
    table: dict[str, Any] = {}
    for template, item in sorted(doc["paths"].items()):
        for method, op in sorted(item.items()):
            method = method.upper()
            if (method, _shape(template)) not in routes and not _refused(method, template):
                continue
            entry: dict[str, Any] = {}
            content = (op.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                entry["body"] = types.node(content["application/json"]["schema"])
            query = {
                p["name"]: types.node(p.get("schema") or {})
                for p in op.get("parameters", [])
                if p.get("in") == "query"
            }
            if query:
                entry["query"] = dict(sorted(query.items()))
            if entry:
                table[f"{method} {template}"] = entry
                if (method, template) in aliases:
                    other_method, other = aliases[(method, template)]
                    table[f"{other_method} {other}"] = entry
    return dict(sorted(table.items()))


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    TABLE.write_text(render(build(spec_dict(SPEC))), encoding="utf-8")
    print(f"wrote {TABLE.relative_to(REPO)}")
