"""Reading request bodies and query strings with errors that name the field; no decisions here."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from reconcile.localapi.state.problems import Invalid


async def read_body(request: Request, allowed: Iterable[str] | None = None) -> Body:
    """The JSON object body; an empty body counts as `{}`. `allowed` lists the accepted fields."""
    return Body(parse_object(await request.body()), allowed)


def parse_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object (empty or `null`: `{}`); Invalid names `body` otherwise."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_constant=_not_json)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a number of 4,300+ digits
        raise Invalid(f"body: not valid JSON ({exc})") from None
    except RecursionError:
        raise Invalid("body: not valid JSON (nested too deeply)") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Invalid("body: must be a JSON object")
    return data


def _not_json(constant: str) -> Any:
    """Python's json reads NaN and Infinity; JSON has no such numbers."""
    raise ValueError(f"{constant} is not a JSON number")


def is_number(value: Any) -> bool:
    """A number the API can hold: an int64, or a finite float (1e400 parses as infinity)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


class Body:
    """Typed access to a JSON object; null counts as absent for every optional field."""

    def __init__(
        self, data: dict[str, Any], allowed: Iterable[str] | None = None, where: str = ""
    ) -> None:
        self.data = data
        self.where = where
        if allowed is not None:
            unknown = sorted(set(data) - set(allowed))
            if unknown:
                raise Invalid(f"{self._name(unknown[0])}: unknown field")

    def _name(self, field: str) -> str:
        return f"{self.where}.{field}" if self.where else field

    def has(self, field: str) -> bool:
        return self.data.get(field) is not None

    def raw(self, field: str) -> Any:
        return self.data.get(field)

    def text(self, field: str, *, required: bool = False, max_len: int | None = None) -> str | None:
        value = self._get(field, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise Invalid(f"{self._name(field)}: must be a string")
        if max_len is not None and len(value) > max_len:
            raise Invalid(f"{self._name(field)}: at most {max_len} characters")
        return value

    def req_text(self, field: str) -> str:
        value = self.text(field, required=True)
        assert value is not None
        return value

    def enum(self, field: str, choices: Iterable[str], *, required: bool = False) -> str | None:
        value = self.text(field, required=required)
        options = tuple(choices)
        if value is not None and value not in options:
            raise Invalid(f"{self._name(field)}: must be one of {', '.join(options)}")
        return value

    def str_map(self, field: str) -> dict[str, str] | None:
        value = self._get(field, False)
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise Invalid(f"{self._name(field)}: must be an object of strings")
        return dict(value)

    def str_list(self, field: str, *, required: bool = False) -> list[str] | None:
        value = self._get(field, required)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(f"{self._name(field)}: must be a list of strings")
        return list(value)

    def number(self, field: str) -> float | None:
        value = self._get(field, False)
        if value is None:
            return None
        if not is_number(value):
            raise Invalid(f"{self._name(field)}: must be a number")
        return float(value)

    def integer(
        self, field: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        value = self._get(field, False)
        if value is None:
            return None
        if not is_number(value) or value != int(value):
            raise Invalid(f"{self._name(field)}: must be an integer")
        if minimum is not None and value < minimum:
            raise Invalid(f"{self._name(field)}: must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise Invalid(f"{self._name(field)}: must be at most {maximum}")
        return int(value)

    def boolean(self, field: str) -> bool | None:
        value = self._get(field, False)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise Invalid(f"{self._name(field)}: must be true or false")
        return value

    def obj(self, field: str, allowed: Iterable[str] | None = None) -> Body | None:
        value = self._get(field, False)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise Invalid(f"{self._name(field)}: must be an object")
        return Body(value, allowed, self._name(field))

    def objects(self, field: str) -> list[Body] | None:
        value = self._get(field, False)
        if value is None:
            return None
        if not isinstance(value, list):
            raise Invalid(f"{self._name(field)}: must be a list")
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise Invalid(f"{self._name(field)}[{i}]: must be an object")
            items.append(Body(item, None, f"{self._name(field)}[{i}]"))
        return items

    def _get(self, field: str, required: bool) -> Any:
        value = self.data.get(field)
        if value is None and required:
            raise Invalid(f"{self._name(field)}: required")
        return value


def query_int(request: Request, name: str, *, minimum: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name}: must be an integer") from None
    if not is_number(value):  # e.g. an offset past int64 would break the seek mid-stream
        raise Invalid(f"{name}: must be a 64-bit integer")
    if minimum is not None and value < minimum:
        raise Invalid(f"{name}: must be at least {minimum}")
    return value


def query_bool(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise Invalid(f"{name}: must be true or false")


def query_str(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    return raw if raw else None


def query_enum(request: Request, name: str, choices: Iterable[str]) -> str | None:
    """A query parameter the spec types as an enum: absent/empty is None, else one of `choices`."""
    value = query_str(request, name)
    options = tuple(choices)
    if value is not None and value not in options:
        raise Invalid(f"{name}: must be one of {', '.join(options)}")
    return value


def clamp_timeout(value: float | None, default: float, maximum: float) -> float:
    """A long-poll hold in seconds: default when absent, never negative, at most `maximum`."""
    if value is None:
        return default
    return min(max(value, 0.0), maximum)
