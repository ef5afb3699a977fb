"""More fuzzing, with the probes of test_conformance_fuzz.py: every route of a feature the local
server refuses still checks types first (a wrong-typed field is a 400 naming it), and an
x-request-id reused for a request that differs in body or path is a 409 naming the header, while
an identical replay gets the stored answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conformance_support import World
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from request_types_gen import TABLE
from test_conformance_fuzz import (
    ENDPOINTS,
    EXAMPLES,
    Endpoint,
    Probe,
    Spec,
    _body_probes,
    judge,
    probes,
    request_fields,
    send,
)

from reconcile.localapi.web.idempotency import NOT_DEDUPED
from reconcile.localapi.web.routes import unsupported

# test_conformance_fuzz's fixtures (one private server per module)
from test_conformance_fuzz import fuzz_server, spec, world  # noqa: F401  # isort: skip


def _refused_endpoints() -> list[Endpoint]:
    """Every operation of request_types.json that the server refuses as a feature."""
    found = []
    for key, entry in json.loads(TABLE.read_text(encoding="utf-8")).items():
        method, path = key.split(" ", 1)
        refused = any(path.startswith(p) for p in unsupported._RESOURCES)
        if not refused and not path.endswith(tuple(f"/{a}" for a in unsupported._DEVBOX_ACTIONS)):
            continue
        roles = {"id": "devbox"} if path.startswith("/v1/devboxes/{id}/") else {}
        body = {} if "body" in entry else None
        found.append(Endpoint(method, path, roles, body=body, always_refuses=True))
    return found


REFUSED = _refused_endpoints()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _literal(ep: Endpoint) -> Endpoint:
    """Path parameters that take no world resource get a fixed value (the route refuses anyway)."""
    path = ep.path
    for param in ("id", "name", "devbox_id", "execution_id"):
        if param not in ep.roles:
            path = path.replace(f"{{{param}}}", f"some-{param}")
    return Endpoint(ep.method, path, ep.roles, ep.body, ep.query, ep.always_refuses)


def test_every_refused_feature_with_input_is_fuzzed() -> None:
    prefixes = {p for p in unsupported._RESOURCES if p != "/v1/devboxes/evictions/watch"}
    covered = {p for p in prefixes if any(ep.path.startswith(p) for ep in REFUSED)}
    assert covered == prefixes - {"/v1/accounts"}  # /v1/accounts takes no input at all
    assert any(ep.path.endswith("/enable_tunnel") for ep in REFUSED)


@pytest.mark.parametrize("ep", REFUSED, ids=[ep.id for ep in REFUSED])
@FUZZ
@given(data=st.data())
def test_refused_features_name_wrong_types(
    fuzz_server: httpx.Client,  # noqa: F811
    world: World,  # noqa: F811
    spec: Spec,  # noqa: F811
    ep: Endpoint,
    data: st.DataObject,
) -> None:
    ep = _literal(ep)
    probe = data.draw(probes(ep, spec.doc), label="probe")
    reply = send(fuzz_server, world, ep, probe)
    judge(spec, ep, probe, reply)
    assert reply.status_code in (400, 404, 405, 422), reply.text


DEDUPED = [
    ep
    for ep in ENDPOINTS
    if ep.method == "POST"
    and ep.path.startswith("/v1/")
    and not ep.path.endswith((*NOT_DEDUPED, "/upload_file"))
    and not ep.always_refuses
]


def _pinned(live: World, ep: Endpoint, request_id: str) -> Probe:
    ids = {param: live.id(role) for param, role in ep.roles.items()}
    return Probe("as it succeeds", path_ids=ids, headers={"x-request-id": request_id})


@pytest.mark.parametrize("ep", DEDUPED, ids=[ep.id for ep in DEDUPED])
@FUZZ
@given(data=st.data())
def test_a_reused_request_id_replays_the_same_call_and_refuses_another(
    fuzz_server: httpx.Client,  # noqa: F811
    world: World,  # noqa: F811
    spec: Spec,  # noqa: F811
    ep: Endpoint,
    data: st.DataObject,
) -> None:
    request_id = f"fuzz-{data.draw(st.uuids(), label='id')}"
    changes = _body_probes(ep, request_fields(spec.doc, ep.method, ep.path))
    change: Probe = data.draw(st.sampled_from(changes), label="change")  # draws come first
    base = _pinned(world, ep, request_id)
    first = send(fuzz_server, world, ep, base)
    if first.status_code != 200:
        return  # nothing stored (the world may have been used up by an earlier example)
    again = send(fuzz_server, world, ep, base)
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["x-idempotent-replay"] == "true"

    other = send(
        fuzz_server, world, ep, Probe("changed", base.path_ids, {}, change.content, base.headers)
    )
    if change.content == _body_of(ep):
        return
    where = f"{ep.id} with {change.what}: {other.status_code} {other.text[:300]}"
    assert "x-idempotent-replay" not in other.headers, where
    if other.status_code in (400, 422):  # refused on its own (types are checked before the id)
        judge(spec, ep, change, other)
        return
    assert other.status_code == 409, where
    assert other.json()["message"].startswith("x-request-id: "), where


def _body_of(ep: Endpoint) -> bytes:
    return json.dumps(ep.body or {}, allow_nan=True).encode()


def test_a_reused_request_id_on_another_path_is_a_conflict(fuzz_server: httpx.Client) -> None:  # noqa: F811
    headers = {"x-request-id": "fuzz-path-change"}
    body: dict[str, Any] = {"name": "first"}
    assert fuzz_server.post("/v1/blueprints", json=body, headers=headers).status_code == 200
    other = fuzz_server.post("/v1/objects", json=body, headers=headers)
    assert other.status_code == 409
    assert "POST /v1/blueprints" in other.json()["message"]
