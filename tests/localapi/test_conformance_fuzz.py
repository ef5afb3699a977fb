"""Fuzzing every endpoint of the local server: malformed bodies, wrong types, nulls, huge numbers,
bad query parameters and bad path ids must never get a 5xx or take the server down; refusals are
JSON with a `message`, and a 400/422 for a broken field or parameter names it.

One hypothesis test per server route (the table must cover every route the server has). Each
example changes one thing of a request that would otherwise succeed against a "world" of live
resources; a resource an example used up (shut down, deleted, completed) is replaced before the
next example, so every refusal is due to the one change.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conformance_support import (
    SNAPSHOTS,
    Field,
    World,
    exchange_of,
    load_spec,
    query_parameters,
    request_fields,
    response_problems,
    spec_dict,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_core import OpenAPI

from reconcile.localapi import LocalConfig, start_in_thread
from reconcile.localapi.web.routes.table import REFUSED, resource_routes
from tests.conftest import shared_path

# per route; the file must stay well under a minute on 2 cores (set FUZZ_EXAMPLES to dig deeper)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


@dataclass(frozen=True)
class Endpoint:
    """A route, the world role each path parameter takes, and a request that succeeds."""

    method: str
    path: str
    roles: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # None: the route takes no JSON body
    query: dict[str, str] = field(default_factory=dict)
    always_refuses: bool = False  # a feature the local server does not offer

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


D, DX, EX = {"id": "devbox"}, {"devbox_id": "exec_devbox"}, {"execution_id": "execution"}
SNP, OBJ, BPT = {"id": "snapshot"}, {"id": "object"}, {"id": "blueprint"}
EXN = "/v1/devboxes/{devbox_id}/executions/{execution_id}"
ENDPOINTS = [
    Endpoint("POST", "/v1/devboxes", body={"name": "fuzz"}),
    Endpoint("POST", "/v1/devboxes/create_and_await_running", body={"name": "fuzz"}),
    Endpoint("GET", "/v1/devboxes", query={"limit": "5"}),
    Endpoint("GET", "/v1/devboxes/metadata/keys"),
    Endpoint("GET", "/v1/devboxes/metadata/keys/{key}/values", {"key": "key"}),
    Endpoint("GET", "/v1/devboxes/{id}", D),
    Endpoint("POST", "/v1/devboxes/{id}", D, body={"name": "renamed"}),
    Endpoint("POST", "/v1/devboxes/{id}/shutdown", D, query={"force": "false"}),
    Endpoint("POST", "/v1/devboxes/{id}/suspend", D),
    Endpoint("POST", "/v1/devboxes/{id}/resume", {"id": "suspended"}),
    Endpoint("POST", "/v1/devboxes/{id}/keep_alive", D),
    Endpoint("GET", "/v1/devboxes/{id}/logs", D, query={"execution_id": "exn_x"}),
    Endpoint("GET", "/v1/devboxes/{id}/usage", D),
    Endpoint(
        "POST",
        "/v1/devboxes/{id}/wait_for_status",
        D,
        body={"statuses": ["running"], "timeout_seconds": 1},
    ),
    Endpoint("POST", "/v1/devboxes/{id}/execute", D, body={"command": "true", "command_id": None}),
    Endpoint("POST", "/v1/devboxes/{id}/execute_async", D, body={"command": "true"}),
    Endpoint("POST", "/v1/devboxes/{id}/execute_sync", D, body={"command": "true"}),
    Endpoint("GET", EXN, DX | EX, query={"last_n": "10"}),
    Endpoint("POST", f"{EXN}/wait_for_status", DX | EX, body={"statuses": ["completed"]}),
    Endpoint("POST", f"{EXN}/kill", DX | EX, body={}),
    Endpoint("POST", f"{EXN}/send_std_in", DX | EX, body={"text": "x"}, always_refuses=True),
    Endpoint("GET", f"{EXN}/stream_stdout_updates", DX | EX, query={"offset": "0"}),
    Endpoint("GET", f"{EXN}/stream_stderr_updates", DX | EX, query={"offset": "0"}),
    Endpoint("POST", "/v1/devboxes/{id}/read_file_contents", D, body={"file_path": "probe.txt"}),
    Endpoint(
        "POST",
        "/v1/devboxes/{id}/write_file_contents",
        D,
        body={"file_path": "w.txt", "contents": "x"},
    ),
    Endpoint("POST", "/v1/devboxes/{id}/upload_file", D),  # multipart; see _upload_probe
    Endpoint("POST", "/v1/devboxes/{id}/download_file", D, body={"path": "probe.txt"}),
    Endpoint("POST", "/v1/devboxes/{id}/snapshot_disk", D, body={"name": "s"}),
    Endpoint("POST", "/v1/devboxes/{id}/snapshot_disk_async", D, body={"name": "s"}),
    Endpoint("GET", SNAPSHOTS, query={"limit": "5", "metadata[k]": "v"}),
    Endpoint("GET", f"{SNAPSHOTS}/list_public"),
    Endpoint("GET", f"{SNAPSHOTS}/metadata/keys"),
    Endpoint("GET", f"{SNAPSHOTS}/metadata/keys/{{key}}/values", {"key": "key"}),
    Endpoint("GET", f"{SNAPSHOTS}/public/metadata/keys"),
    Endpoint("GET", f"{SNAPSHOTS}/public/metadata/keys/{{key}}/values", {"key": "key"}),
    Endpoint("POST", f"{SNAPSHOTS}/{{id}}", SNP, body={"name": "n", "metadata": {"k": "v"}}),
    Endpoint("POST", f"{SNAPSHOTS}/{{id}}/delete", SNP),
    Endpoint("GET", f"{SNAPSHOTS}/{{id}}/status", SNP),
    Endpoint("POST", "/v1/objects", body={"name": "fuzz.txt", "content_type": "text"}),
    Endpoint("GET", "/v1/objects", query={"limit": "5"}),
    Endpoint("GET", "/v1/objects/list_public"),
    Endpoint("GET", "/v1/objects/metadata/keys"),
    Endpoint("GET", "/v1/objects/metadata/keys/{key}/values", {"key": "key"}),
    Endpoint("GET", "/v1/objects/{id}", OBJ),
    Endpoint("POST", "/v1/objects/{id}/complete", {"id": "uploading"}, body={}),
    Endpoint("GET", "/v1/objects/{id}/download", OBJ, query={"duration_seconds": "60"}),
    Endpoint("POST", "/v1/objects/{id}/delete", OBJ, body={}),
    Endpoint("PUT", "/_storage/objects/{id}", {"id": "signed_put"}),
    Endpoint("GET", "/_storage/objects/{id}", {"id": "signed_get"}),
    Endpoint("POST", "/v1/blueprints", body={"name": "fuzz-bp"}),
    Endpoint("GET", "/v1/blueprints", query={"limit": "5"}),
    Endpoint("GET", "/v1/blueprints/list_public"),
    Endpoint("POST", "/v1/blueprints/preview", body={"name": "p", "dockerfile": "RUN true"}),
    Endpoint("GET", "/v1/blueprints/metadata/keys"),
    Endpoint("GET", "/v1/blueprints/metadata/keys/{key}/values", {"key": "key"}),
    Endpoint("GET", "/v1/blueprints/public/metadata/keys"),
    Endpoint("GET", "/v1/blueprints/public/metadata/keys/{key}/values", {"key": "key"}),
    Endpoint("GET", "/v1/blueprints/{id}", BPT),
    Endpoint("POST", "/v1/blueprints/{id}/delete", BPT, body={}),
    Endpoint("GET", "/v1/blueprints/{id}/logs", BPT),
]


# -- the broken requests ------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
ANY_BAD: list[Any] = [None, {"nested": [1, {"x": None}]}, [1, "a", None], True]
BAD_BY_TYPE: dict[str, list[Any]] = {
    "string": [12345, 1.5, "", "x" * 20_000, "nul\x00byte", "ünïcødé ✓ 🚀", "../../etc/passwd"],
    "integer": ["12", 1.5, -1, 0, 2**31, 2**63, 10**30, -(10**400), NAN, INF, -INF],
    "number": ["1", -1, 1e308, 10**30, 10**400, NAN, INF, -INF],
    "boolean": ["true", 1, 0],
    "object": ["x", 1, [], {"k": 1}, {"k": None}, {"": ""}, {"k": {"deep": 1}}, {"n": "a\x00b"}],
    "array": ["x", 1, {}, [None], [1], [[]], ["", ""], ["x", "x", "x"]],
}
RAW_BODIES = [
    b"{",
    b'{"a": }',
    b"\xff\xfe\x00",
    b"[]",
    b"[1, 2]",
    b"1",
    b'"text"',
    b"true",
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b"{}" + b" " * 100_000 + b"x",
    b'{"n": 1' + b"0" * 5000 + b"}",
    b'{"n": 1e400}',
    b'{"n": NaN}',
]
BAD_QUERY_VALUES = [
    "",
    "-1",
    "0",
    "abc",
    "1e400",
    "99999999999999999999999",
    "NaN",
    "maybe",
    "ünï",
    "\x00",
    "a" * 5000,
    "true,false",
]
BAD_IDS = [
    "dbx_000000000000000000000",
    "obj_000000000000000000000",
    "snp_000000000000000000000",
    "bpt_000000000000000000000",
    "exn_000000000000000000000",
    "..",
    "%2e%2e",
    "../../etc/passwd",
    "a" * 5000,
    "ünïcødé",
    "with space",
    "null",
    "-1",
    "\x00",
]


@dataclass(frozen=True)
class Probe:
    """One request with one thing broken; a 400/422 must mention one of `names` (if any)."""

    what: str
    path_ids: dict[str, str] = field(default_factory=dict)  # overrides of world ids
    query: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    wrong_type: bool = False  # named even by a route that refuses its feature (types come first)

    def __repr__(self) -> str:  # hypothesis prints it for a failing example; bodies can be huge
        return f"Probe({self.what})"


def _json(body: Any) -> bytes:
    return json.dumps(body, allow_nan=True).encode()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}…({len(text)} chars)"


def _with_field(base: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    body = dict(base)
    outer, _, inner = dotted.partition(".")
    body[outer] = {inner: value} if inner else value
    return body


def _body_probes(ep: Endpoint, fields: list[Field]) -> list[Probe]:
    probes = []
    for f in [*fields, Field("unexpected_field", "")]:
        for value in ANY_BAD + BAD_BY_TYPE.get(f.type, []):
            body = _with_field(ep.body or {}, f.name, value)
            named = tuple(f.name.split("."))  # the field, or the object holding it
            if isinstance(value, float) and not math.isfinite(value):
                named += ("body",)  # NaN and Infinity are not JSON at all
            what, content = f"body {f.name}={_short(value)}", _json(body)
            probes.append(Probe(what, content=content, names=named, wrong_type=_wrong(value, f)))
    return probes


def _wrong(value: Any, f: Field) -> bool:
    """Whether `value` is not of the field's JSON type (null is absent, so never wrong)."""
    if value is None or not f.type or "." in f.name:
        return False
    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    number = finite and not isinstance(value, bool)
    return not {
        "string": isinstance(value, str),
        "integer": number and value == int(value) and value < 2**63,
        "number": number,
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
    }.get(f.type, True)


def _raw_probes() -> list[Probe]:
    return [
        Probe(f"raw body {_short(raw)}", content=raw, names=("body", "n")) for raw in RAW_BODIES
    ]


def _query_probes(ep: Endpoint, params: list[str]) -> list[Probe]:
    names = sorted({*params, *ep.query, "unexpected_param"})
    return [
        Probe(f"query {name}={_short(value)}", query={name: value}, names=(name,))
        for name in names
        for value in BAD_QUERY_VALUES
    ]


def _path_probes(ep: Endpoint) -> st.SearchStrategy[Probe]:
    ids = st.sampled_from(BAD_IDS) | st.text(min_size=1, max_size=30)
    return st.tuples(st.sampled_from(sorted(ep.roles)), ids).map(
        lambda pv: Probe(f"path {pv[0]}={_short(pv[1])}", path_ids={pv[0]: pv[1]})
    )


def _multipart(data: dict[str, str], files: dict[str, Any]) -> Probe:
    request = httpx.Request("POST", "http://x/", data=data, files=files or None)
    return Probe(
        f"multipart fields {sorted(data)} files {sorted(files)} path={_short(data.get('path'))}",
        content=request.read(),
        headers={"content-type": request.headers["content-type"]},
        names=("path", "file"),
    )


def _upload_probes() -> list[Probe]:
    """upload_file takes multipart: a bad `path` part, a missing part, or no multipart at all."""
    part = {"file": ("f", b"bytes")}
    paths = [*BAD_BY_TYPE["string"][2:], "/", "/etc/../..", "a/../../b"]
    return [
        *(_multipart({"path": p}, part) for p in paths),
        _multipart({}, part),
        _multipart({"path": "no-file.bin"}, {}),
        *(replace(p, names=()) for p in _raw_probes()),  # JSON, so no multipart parts at all
    ]


def probes(ep: Endpoint, doc: dict[str, Any]) -> st.SearchStrategy[Probe]:
    """Every broken request for one endpoint: a fixed table, plus random path ids."""
    if ep.path.endswith("/upload_file"):
        cases = _upload_probes()
    else:
        cases = _query_probes(ep, query_parameters(doc, ep.method, ep.path))
        if ep.method == "POST":
            cases += _body_probes(ep, request_fields(doc, ep.method, ep.path)) + _raw_probes()
    strategy: st.SearchStrategy[Probe] = st.sampled_from(cases)
    return strategy | _path_probes(ep) if ep.roles else strategy


# -- sending and judging ------------------------------------------------------------------------


def send(api: httpx.Client, world: World, ep: Endpoint, probe: Probe) -> httpx.Response:
    path = ep.path
    for param, role in ep.roles.items():
        value = probe.path_ids.get(param, world.id(role))
        path = path.replace(f"{{{param}}}", quote(value, safe=""))
    query = {**ep.query, **world.signed.get(ep.roles.get("id", ""), {}), **probe.query}
    content = probe.content
    headers = dict(probe.headers)
    if content is None and ep.body is not None:
        content = _json(ep.body)
    if content is not None:
        headers.setdefault("content-type", "application/json")
    return api.request(ep.method, path, params=query, content=content, headers=headers)


def judge(spec: Spec, ep: Endpoint, probe: Probe, reply: httpx.Response) -> None:
    where = f"{ep.id} with {probe.what}: {reply.status_code} {reply.text[:300]}"
    assert reply.status_code < 500, where
    if reply.status_code == 200 and ep.path.startswith("/v1/"):  # odd but valid: still the spec's
        assert not response_problems(spec.api, exchange_of(reply.request, reply)), where
    if reply.status_code < 400:
        return
    assert reply.headers.get("content-type", "").startswith("application/json"), where
    body = reply.json()
    assert isinstance(body, dict) and isinstance(body.get("message"), str), where
    named = not ep.always_refuses or probe.wrong_type
    if reply.status_code in (400, 422) and probe.names and named:
        assert any(name in body["message"] for name in probe.names), where


@dataclass(frozen=True)
class Spec:
    """The OpenAPI document as data and as a validator, with a short repr for hypothesis."""

    doc: dict[str, Any]
    api: OpenAPI

    def __repr__(self) -> str:
        return "Spec(runloop-api-openapi.yml)"


@pytest.fixture(scope="module")
def spec() -> Spec:
    path = shared_path("runloop-openapi", "runloop-api-openapi.yml")
    return Spec(spec_dict(path), load_spec(path))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A private server (instant transitions) so the fuzzing leaves the shared one alone."""
    config = LocalConfig(
        data_dir=tmp_path_factory.mktemp("fuzz-data"), port=0, transition_seconds=0.0
    )
    with start_in_thread(config) as server:
        headers = {"Authorization": f"Bearer {server.token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=40) as api:
            yield api


@pytest.fixture(scope="module")
def world(fuzz_server: httpx.Client) -> World:
    return World(fuzz_server)


def test_the_table_covers_every_route_of_the_server() -> None:
    routes = [r for r in resource_routes() if r not in REFUSED]
    served = {(method, r.path) for r in routes for method in r.methods or () if method != "HEAD"}
    assert served == {(ep.method, ep.path) for ep in ENDPOINTS}


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[ep.id for ep in ENDPOINTS])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_broken_requests_are_refused_cleanly(
    fuzz_server: httpx.Client, world: World, spec: Spec, ep: Endpoint, data: st.DataObject
) -> None:
    probe = data.draw(probes(ep, spec.doc), label="probe")
    judge(spec, ep, probe, send(fuzz_server, world, ep, probe))
    assert fuzz_server.get("/v1/devboxes", params={"limit": 1}).status_code == 200
