"""Helpers for the local server's conformance tests: the Runloop OpenAPI spec (with its known
errata), a recording httpx transport, response validation, a world of live resources for the
fuzzing, and staging the Arazzo workflows.

Plain functions and small classes over real HTTP traffic; nothing here starts a server.
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_HOST = "https://api.runloop.ai"  # the spec's only server; requests are matched against it

# Paths the SDK calls that the spec does not list, and the operation whose response they share.
OFF_SPEC_ALIASES = {
    ("POST", "/v1/devboxes/create_and_await_running"): ("POST", "/v1/devboxes"),
}


def _number_is_a_number(spec: dict[str, Any]) -> None:
    """`Number` (DevboxStateTransition.transition_time_ms) is an empty object with
    additionalProperties false; every SDK and the API use an integer of milliseconds."""
    spec["components"]["schemas"]["Number"] = {"type": "number"}


def _cpu_cores_may_be_fractional(spec: dict[str, Any]) -> None:
    """LaunchParameters.custom_cpu_cores is typed int32 while its own description allows 0.5
    cores; SDK 3.0 types it float."""
    spec["components"]["schemas"]["LaunchParameters"]["properties"]["custom_cpu_cores"] = {
        "type": "number",
        "nullable": True,
    }


# Defects of the published spec itself (not of the server), each with why it is patched.
SPEC_ERRATA = (_number_is_a_number, _cpu_cores_may_be_fractional)


@functools.cache
def spec_dict(path: Path) -> dict[str, Any]:
    """The OpenAPI document at `path` as data, SPEC_ERRATA applied (cached; do not change it)."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for fix in SPEC_ERRATA:
        fix(raw)
    return raw


@functools.cache
def load_spec(path: Path) -> OpenAPI:
    """The OpenAPI spec at `path` with SPEC_ERRATA applied (cached per path)."""
    return OpenAPI.from_dict(copy.deepcopy(spec_dict(path)))


@dataclass(frozen=True)
class Field:
    """A request field the spec declares: dotted name (one level of nesting) and JSON type."""

    name: str
    type: str  # string, integer, number, boolean, object, array, or "" when untyped


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operation(doc: dict[str, Any], method: str, template: str) -> dict[str, Any] | None:
    method, template = OFF_SPEC_ALIASES.get((method, template), (method, template))
    op: dict[str, Any] | None = doc["paths"].get(template, {}).get(method.lower())
    return op


def request_fields(doc: dict[str, Any], method: str, template: str) -> list[Field]:
    """The JSON body fields of an operation (path template as in the spec), nested objects'
    own fields included as `outer.inner`."""
    op = _operation(doc, method, template) or {}
    content = (op.get("requestBody") or {}).get("content", {})
    if "application/json" not in content:
        return []
    fields = []
    top = _resolve(doc, content["application/json"]["schema"])
    for name, prop in (top.get("properties") or {}).items():
        schema = _resolve(doc, prop)
        fields.append(Field(name, schema.get("type", "")))
        for inner, inner_prop in (schema.get("properties") or {}).items():
            fields.append(Field(f"{name}.{inner}", _resolve(doc, inner_prop).get("type", "")))
    return fields


def query_parameters(doc: dict[str, Any], method: str, template: str) -> list[str]:
    """The query parameter names an operation declares."""
    op = _operation(doc, method, template) or {}
    return [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]


@dataclass(frozen=True)
class Exchange:
    """One request and its answer as seen on the wire."""

    method: str
    path: str
    query: list[tuple[str, str]]
    request_body: bytes
    request_content_type: str
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes

    def label(self) -> str:
        return f"{self.method} {self.path} → {self.status}"

    def json(self) -> Any:
        return json.loads(self.body)


def exchange_of(request: httpx.Request, response: httpx.Response) -> Exchange:
    """The record of an httpx request and its (read) response."""
    return Exchange(
        method=request.method,
        path=request.url.path,
        query=list(request.url.params.multi_items()),
        request_body=request.content,
        request_content_type=request.headers.get("content-type", ""),
        status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        headers=dict(response.headers),
        body=response.content,
    )


@dataclass
class RecordingTransport(httpx.BaseTransport):
    """An httpx transport that forwards to a real one and keeps every exchange (bodies read)."""

    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    exchanges: list[Exchange] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # multipart uploads stream; keep their bytes for the record
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append(exchange_of(request, response))
        return response

    def close(self) -> None:
        self.inner.close()


@dataclass
class _SpecRequest:
    """openapi-core's Request protocol for a recorded exchange, as if sent to the spec's host."""

    method: str
    path: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters
    host_url: str = SPEC_HOST


@dataclass
class _SpecResponse:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes


def _spec_request(exchange: Exchange) -> _SpecRequest:
    method, path = OFF_SPEC_ALIASES.get(
        (exchange.method, exchange.path), (exchange.method, exchange.path)
    )
    return _SpecRequest(
        method=method.lower(),
        path=path,
        body=exchange.request_body or None,
        content_type=exchange.request_content_type,
        parameters=RequestParameters(query=ImmutableMultiDict(exchange.query)),
    )


def operation_id(spec: OpenAPI, method: str, path: str) -> str | None:
    """The spec's operationId for a concrete request path (aliases applied); None if unlisted."""
    method, path = OFF_SPEC_ALIASES.get((method, path), (method, path))
    try:
        found = APICallPathFinder(spec.spec).find(method.lower(), SPEC_HOST + path)
    except PathError:
        return None
    op_id: str | None = (found.operation / "operationId").read_value()
    return op_id


def sse_data(body: bytes) -> list[bytes]:
    """The `data:` payloads of a text/event-stream body, one per event."""
    events = body.decode("utf-8").replace("\r\n", "\n").split("\n\n")
    payloads = []
    for event in events:
        lines = [line[5:].lstrip() for line in event.split("\n") if line.startswith("data:")]
        if lines:
            payloads.append("\n".join(lines).encode())
    return payloads


def response_problems(spec: OpenAPI, exchange: Exchange) -> list[str]:
    """Why the answer does not match its operation's response in the spec (empty: it does).

    The spec models the SSE streams as one JSON chunk, so each event's data is checked as that."""
    if exchange.content_type.startswith("text/event-stream"):
        problems = []
        for n, data in enumerate(sse_data(exchange.body)):
            as_json = replace(exchange, content_type="application/json", body=data)
            problems += [f"event {n}: {p}" for p in response_problems(spec, as_json)]
        return problems
    response = _SpecResponse(
        status_code=exchange.status,
        content_type=exchange.content_type,
        headers=Headers(exchange.headers),
        data=exchange.body,
    )
    problems = []
    for error in spec.iter_response_errors(_spec_request(exchange), response):
        detail = error.__cause__ or error
        schema_errors = getattr(detail, "schema_errors", None)
        if schema_errors:
            problems.extend(
                f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}"
                for e in schema_errors
            )
        else:
            problems.append(f"{type(detail).__name__}: {detail}")
    return problems


def error_body_problem(exchange: Exchange) -> str | None:
    """Error answers must be JSON objects with a string `message`; why this one is not."""
    if not exchange.content_type.startswith("application/json"):
        return f"content-type {exchange.content_type!r}, not JSON"
    try:
        body = exchange.json()
    except ValueError:
        return f"body is not JSON: {exchange.body[:200]!r}"
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return f"no string 'message' in {body!r}"
    return None


def exchanges_problems(spec: OpenAPI, exchanges: Iterable[Exchange]) -> list[str]:
    """Every 200 answer checked against the spec, every other one for a JSON `message`."""
    problems: list[str] = []
    for exchange in exchanges:
        if exchange.status == 200:
            problems += [f"{exchange.label()}: {p}" for p in response_problems(spec, exchange)]
        elif (why := error_body_problem(exchange)) is not None:
            problems.append(f"{exchange.label()}: {why}")
    return problems


# -- a world of live resources ------------------------------------------------------------------

SNAPSHOTS = "/v1/devboxes/disk_snapshots"
BUILDING = ("queued", "provisioning", "building")


class World:
    """Live resources on a local server by role (running devbox, suspended devbox, execution,
    complete snapshot, READ_ONLY or UPLOADING object, built blueprint, signed storage URLs);
    `id(role)` first replaces one that earlier requests used up (shut down, deleted, completed)."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self._ids: dict[str, str] = {}
        self.signed: dict[str, dict[str, str]] = {}  # role → query of its signed storage URL
        self._execution_of: str | None = None

    def id(self, role: str) -> str:
        if role == "key":
            return "k"
        current = self._ids.get(role)
        if current is None or not self._usable(role, current):
            self._ids[role] = self._make(role)
        return self._ids[role]

    def _get(self, path: str) -> dict[str, Any]:
        reply = self.api.get(path)
        return reply.json() if reply.status_code == 200 else {}

    def _usable(self, role: str, rid: str) -> bool:
        if role in ("devbox", "exec_devbox", "suspended"):
            wanted = "suspended" if role == "suspended" else "running"
            return self._get(f"/v1/devboxes/{rid}").get("status") == wanted
        if role == "execution":
            return self._execution_of == self.id("exec_devbox")
        if role == "snapshot":
            return self._get(f"{SNAPSHOTS}/{rid}/status").get("status") == "complete"
        if role in ("object", "signed_get", "uploading", "signed_put"):
            wanted = "UPLOADING" if role in ("uploading", "signed_put") else "READ_ONLY"
            return self._get(f"/v1/objects/{rid}").get("state") == wanted
        assert role == "blueprint", role
        view = self._get(f"/v1/blueprints/{rid}")
        return (view.get("status"), view.get("state")) == ("build_complete", "created")

    def _ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        reply = self.api.request(method, path, **kwargs)
        assert reply.status_code == 200, f"world: {method} {path}: {reply.text}"
        data: dict[str, Any] = reply.json() if reply.content else {}
        return data

    def _make(self, role: str) -> str:
        if role in ("devbox", "exec_devbox", "suspended"):
            rid = self._ok("POST", "/v1/devboxes/create_and_await_running", json={})["id"]
            body = {"file_path": "probe.txt", "contents": "probe"}
            self._ok("POST", f"/v1/devboxes/{rid}/write_file_contents", json=body)
            if role == "suspended":
                self._ok("POST", f"/v1/devboxes/{rid}/suspend")
                wait = {"statuses": ["suspended"], "timeout_seconds": 30}
                self._ok("POST", f"/v1/devboxes/{rid}/wait_for_status", json=wait)
            return rid
        if role == "execution":
            self._execution_of = self.id("exec_devbox")
            path = f"/v1/devboxes/{self._execution_of}/execute"
            return str(
                self._ok("POST", path, json={"command": "echo out; echo err >&2"})["execution_id"]
            )
        if role == "snapshot":
            path = f"/v1/devboxes/{self.id('devbox')}/snapshot_disk"
            return str(self._ok("POST", path, json={"metadata": {"k": "v"}})["id"])
        if role == "blueprint":
            return self._blueprint()
        created = self._ok("POST", "/v1/objects", json={"name": "w.txt", "content_type": "text"})
        if role == "signed_put":
            self.signed[role] = dict(httpx.URL(created["upload_url"]).params)
        if role in ("object", "signed_get"):
            httpx.put(created["upload_url"], content=b"stored bytes").raise_for_status()
            self._ok("POST", f"/v1/objects/{created['id']}/complete")
            url = self._ok("GET", f"/v1/objects/{created['id']}/download")["download_url"]
            self.signed[role] = dict(httpx.URL(url).params)
        return str(created["id"])

    def _blueprint(self) -> str:
        rid = str(self._ok("POST", "/v1/blueprints", json={"name": "world-bp"})["id"])
        deadline = time.monotonic() + 120  # generous: the machine may be busy
        while time.monotonic() < deadline:
            if self._get(f"/v1/blueprints/{rid}").get("status") not in BUILDING:
                return rid
            time.sleep(0.01)
        raise AssertionError("world: the blueprint did not build within 120 s")


# -- Arazzo staging ------------------------------------------------------------------------------


def stage_workflows(seeds_dir: Path, openapi_dir: Path, server_url: str, into: Path) -> Path:
    """Copy the Arazzo workflows (unchanged) to into/arazzo/ and the OpenAPI files to
    into/openapi/ with `servers` set to `server_url`, so `../openapi/<file>` resolves.
    Returns the folder holding the workflows."""
    workflows, specs = into / "arazzo", into / "openapi"
    workflows.mkdir(parents=True, exist_ok=True)
    specs.mkdir(parents=True, exist_ok=True)
    for source in sorted(seeds_dir.glob("*.yml")):
        shutil.copyfile(source, workflows / source.name)
    for source in sorted(openapi_dir.glob("runloop-*-openapi.yml")):
        spec = yaml.safe_load(source.read_text(encoding="utf-8"))
        spec["servers"] = [{"url": server_url}]
        (specs / source.name).write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return workflows


def referenced_specs(workflow: Path) -> list[Path]:
    """The OpenAPI files a staged workflow names in sourceDescriptions, resolved."""
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    return [(workflow.parent / s["url"]).resolve() for s in doc["sourceDescriptions"]]
