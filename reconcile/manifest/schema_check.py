"""Check a document against the manifest's stored core schema with pydantic-core alone.

`rlstate validate` must start fast, and importing pydantic's model machinery and building the
manifest's models costs more than the rest of validating. So the core schema pydantic generates
from the models in schema.py is stored, as data, in core_schema.json, and checked here by
pydantic-core's SchemaValidator: the same validator pydantic would build, so the same errors. It
only checks (values are not built: defaults are stored as None) and answers questions about the
schema's shape for messages. Imports no pydantic; the models are built only where a typed
manifest is used (LoadedManifest.manifest). A test regenerates the stored schema from the models
and compares (refresh with RLSTATE_UPDATE_GOLDEN=1). The schema's format belongs to a
pydantic-core version: with any other version installed, the models check instead (slower, and
the same errors by construction).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pydantic_core
from pydantic_core import ErrorDetails, SchemaValidator, ValidationError

from reconcile.manifest import scalars
from reconcile.manifest.yamlsource import FieldPath

STORED = Path(__file__).with_name("core_schema.json")

# The only functions a stored schema may name (its function validators), by name.
FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "parse_duration": scalars.parse_duration,
    "parse_percent": scalars.parse_percent,
}
_DROPPED = ("metadata", "ref", "serialization", "computed_fields", "default_factory_takes_data")
_WRAPPERS = ("model-field", "default", "nullable", "function-before", "function-after")


def schema_errors(data: Any) -> list[ErrorDetails]:
    """Every way data does not fit the manifest schema, as pydantic reports them (strict mode)."""
    try:
        if stored_is_current():
            stored_validator().validate_python(data, strict=True)
        else:
            from reconcile.manifest.schema import Manifest

            Manifest.model_validate(data, strict=True)
    except ValidationError as error:
        return error.errors(include_url=False)
    return []


def stored_is_current() -> bool:
    """Whether the stored schema was generated with the installed pydantic-core."""
    return bool(_stored()["pydantic_core"] == pydantic_core.__version__)


@cache
def _stored() -> dict[str, Any]:
    """core_schema.json: the pydantic-core version it was generated with, `config` (the models'
    shared config) and `schema`."""
    stored: dict[str, Any] = json.loads(STORED.read_text(encoding="utf-8"))
    return stored


@cache
def stored_validator() -> SchemaValidator:
    """pydantic-core's validator of the stored schema."""
    stored = _stored()
    return SchemaValidator(_with_functions(stored["schema"]), stored["config"])


def _with_functions(node: Any) -> Any:
    """The stored schema with each function validator's name replaced by the function."""
    if isinstance(node, dict):
        if node.get("type") == "no-info":
            return {**node, "function": FUNCTIONS[node["function"]]}
        return {key: _with_functions(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_functions(value) for value in node]
    return node


def field_names(loc: FieldPath) -> list[str]:
    """The fields (by their YAML spelling) of the mapping with fixed fields found at loc."""
    node = _unwrap(_schema_at(loc))
    if node is None or node["type"] != "model-fields":
        return []
    return [field.get("validation_alias", name) for name, field in node["fields"].items()]


def literal_choices(loc: FieldPath) -> tuple[Any, ...]:
    """The values allowed at loc when only some values are (a literal), else ()."""
    node = _unwrap(_schema_at(loc))
    return tuple(node["expected"]) if node is not None and node["type"] == "literal" else ()


def _schema_at(loc: FieldPath) -> dict[str, Any] | None:
    """The schema at loc (keys and indices step into mappings and lists)."""
    node: dict[str, Any] | None = _stored()["schema"]
    for part in loc:
        node = _unwrap(node)
        if node is None:
            return None
        if node["type"] == "model-fields":
            by_yaml = {f.get("validation_alias", n): f for n, f in node["fields"].items()}
            node = by_yaml.get(part)
        elif node["type"] == "dict":
            node = node.get("values_schema")
        elif node["type"] == "list":
            node = node.get("items_schema")
        else:
            return None
    return node


def _unwrap(node: dict[str, Any] | None) -> dict[str, Any] | None:
    """The schema inside fields, defaults, `| None` and validator functions."""
    while node is not None and node["type"] in _WRAPPERS:
        node = node["schema"]
    return node


def stored_form(schema: Any, config: dict[str, Any] | None = None) -> Any:
    """What core_schema.json stores of a model's core schema (`Model.__pydantic_core_schema__`):
    each model becomes the fields it checks (with its `extra` rule), function validators are
    named, defaults are None, and serialization and JSON Schema metadata are dropped.

    ValueError for what cannot be stored: a model with its own __init__, a root model, a
    config other than the first model's, or a function that FUNCTIONS does not name."""
    config = {} if config is None else config
    if isinstance(schema, list):
        return [stored_form(item, config) for item in schema]
    if not isinstance(schema, dict):
        if schema is None or isinstance(schema, (str, int, float)):
            return schema
        raise ValueError(f"cannot store {schema!r} in a core schema")
    if schema.get("type") == "model":
        return _stored_model(schema, config)
    stored: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key == "fields":
            stored[key] = {name: stored_form(field, config) for name, field in value.items()}
        elif key in ("default", "default_factory"):
            stored["default"] = None
        elif key == "function":
            stored[key] = _stored_function(value)
        else:
            stored[key] = stored_form(value, config)
    return stored


def _stored_model(schema: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    name = schema["cls"].__name__
    if schema.get("custom_init") or schema.get("root_model") or schema.get("post_init"):
        raise ValueError(f"{name}: a model with its own __init__ or a root model is not stored")
    own = {k: v for k, v in schema.get("config", {}).items() if k != "title"}
    extra = own.pop("extra_fields_behavior", None)
    if not config:
        config.update(own)
    elif own != config:
        raise ValueError(f"{name}: its config {own} differs from the first model's {config}")
    fields: dict[str, Any] = stored_form(schema["schema"], config)
    return {**fields, "extra_behavior": extra} if extra else fields


def _stored_function(function: dict[str, Any]) -> dict[str, Any]:
    named = getattr(function.get("function"), "__name__", "")
    if function.get("type") != "no-info" or FUNCTIONS.get(named) is not function["function"]:
        raise ValueError(f"cannot store the validator {function!r}: add it to FUNCTIONS")
    return {"type": "no-info", "function": named}


def stored_text(model_schema: Any) -> str:
    """The text of core_schema.json for a model's core schema."""
    config: dict[str, Any] = {}
    schema = stored_form(model_schema, config)
    document = {"pydantic_core": pydantic_core.__version__, "config": config, "schema": schema}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
