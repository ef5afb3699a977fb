"""Check a document against the typed schema and word each failure as one human line at its spot.

Pydantic-core does the checking (schema_check.py); this module only turns its error records into
problems that name the field, say what was expected and what was found, and suggest a fix. It
decides nothing itself, and imports no pydantic.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic_core import ErrorDetails

from reconcile.manifest.scalars import NAME_PATTERN, STACK_PATTERN
from reconcile.manifest.schema_check import field_names, literal_choices, schema_errors
from reconcile.manifest.yamlsource import FieldPath, Reporter

_TYPE_WORDS = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
}
_MOVED_ADDRESS = "must be an address like devbox.NAME, object.NAME or snapshot.NAME"
_IMPORT_ADDRESS = (
    "must be an address like devbox.NAME, object.NAME, snapshot.NAME or blueprint.NAME"
)
_PATTERN_WORDS = {
    STACK_PATTERN: (
        "bad stack name: use a lowercase letter, then up to 39 lowercase letters, digits or '-'"
    ),
    NAME_PATTERN: (
        "bad name: use lowercase letters, digits, '-' and '_' (starting and ending with a"
        " letter or digit, at most 63 characters)"
    ),
    "^/": "must be an absolute path (starting with /)",
}


def check_schema(data: Any, report: Reporter) -> bool:
    """Whether data fits the schema; when not, every way it does not is reported."""
    if data is None:
        report.value((), "the manifest is empty (it needs at least version and stack)")
        return False
    errors = schema_errors(data)
    for details in errors:
        _report(details, report)
    return not errors


def _report(details: ErrorDetails, report: Reporter) -> None:
    loc = tuple(details["loc"])
    kind = details["type"]
    if loc and loc[-1] == "[key]":
        path = loc[:-1]
        report.key(path, _pattern_message(details, f"'{path[-1]}'"))
    elif kind == "extra_forbidden":
        report.key(loc, _unknown_field(loc))
    elif kind == "missing":
        parent = loc[:-1]
        report.at(report.sources.key(parent), loc, "missing required field")
    elif not loc:
        what = _describe(details.get("input"))
        report.value(loc, f"the manifest must be a mapping of fields (got {what})")
    else:
        report.value(loc, _value_message(details, loc, report.sources.texts.get(loc)))


def _value_message(details: ErrorDetails, loc: FieldPath, written: str | None) -> str:
    kind = details["type"]
    value = details.get("input")
    ctx = details.get("ctx") or {}
    got = _describe(value)
    if written and value is not None and not isinstance(value, (str, dict, list)):
        got = written  # as the user spelled it: `yes`, `0x1F`, `2024-01-01`
    if kind in _TYPE_WORDS:
        hint = f'; quote it: "{got}"' if kind == "string_type" and got == written else ""
        return f"{_TYPE_WORDS[kind]} (got {got}{hint})"
    if kind == "literal_error":
        return _literal_message(loc, value, got)
    if kind == "string_pattern_mismatch":
        return _pattern_message(details, _short(value))
    if kind == "value_error":
        return str(ctx.get("error", details["msg"]))
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))} (got {got})"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))} (got {got})"
    message = details["msg"]
    return message[:1].lower() + message[1:]


def _literal_message(loc: FieldPath, value: Any, got: str) -> str:
    choices = literal_choices(loc)
    if loc == ("version",):
        return f"must be 1, the only manifest version (got {got})"
    if not choices:
        return f"is not an allowed value (got {got})"
    listed = ", ".join(str(c) for c in choices)
    if len(choices) == 1:
        return f"must be {listed} (got {got})"
    hint = suggest(str(value), [str(c) for c in choices]) if isinstance(value, str) else ""
    return f"must be one of {listed} (got {got}{hint and '; ' + hint})"


def _pattern_message(details: ErrorDetails, shown: str) -> str:
    pattern = (details.get("ctx") or {}).get("pattern", "")
    if pattern in _PATTERN_WORDS:
        return f"{_PATTERN_WORDS[pattern]} (got {shown})"
    if pattern.startswith("^(devbox|object|snapshot|blueprint)"):
        return f"{_IMPORT_ADDRESS} (got {shown})"
    if pattern.startswith("^(devbox|object|snapshot)"):
        return f"{_MOVED_ADDRESS} (got {shown})"
    if details["type"] == "string_type":
        return f"a name must be a string (got {shown}; quote it)"
    return f"{details['msg'][:1].lower()}{details['msg'][1:]} (got {shown})"


def _unknown_field(loc: FieldPath) -> str:
    name = str(loc[-1])
    allowed = field_names(loc[:-1])
    hint = suggest(name, allowed)
    if hint:
        return f"unknown field '{name}' ({hint})"
    return f"unknown field '{name}' (allowed here: {', '.join(allowed)})"


def suggest(word: str, choices: list[str]) -> str:
    """'did you mean 'x'?' for the closest choice (ignoring case), or '' when none is close."""
    by_lower = {c.lower(): c for c in choices}
    if word.lower() in by_lower:
        return f"did you mean '{by_lower[word.lower()]}'?"
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"did you mean '{by_lower[close[0]]}'?" if close else ""


def _describe(value: Any) -> str:
    """A short description of a YAML value for 'got …' (never more than ~40 characters)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return _short(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {_short(str(value))}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")
