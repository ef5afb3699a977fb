"""SDK sweep, what the local server deliberately does not offer: every such call, made the way the
SDK documents it, must raise the SDK's BadRequestError (a status the SDK never retries) with a
message that starts with the field or resource it is about; an unknown devbox is still 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from runloop_api_client import BadRequestError, NotFoundError, Runloop, RunloopSDK
from sdk_support import message_of

Call = Callable[[RunloopSDK, str], object]


def _list(pages: object) -> object:
    return list(pages)  # type: ignore[call-overload]


REFUSED: list[tuple[str, str, Call]] = [
    ("create-secrets", "secrets", lambda rl, _: rl.devbox.create(secrets={"TOKEN": "MY_SECRET"})),
    ("create-tunnel", "tunnel", lambda rl, _: rl.api.devboxes.create(tunnel={"auth_mode": "open"})),
    (
        "create-code-mounts",
        "code_mounts",
        lambda rl, _: rl.api.devboxes.create(code_mounts=[{"repo_name": "r", "repo_owner": "o"}]),
    ),
    (
        "create-broker-mount",
        "mounts[0].type",
        lambda rl, _: rl.api.devboxes.create(mounts=[{"type": "broker_mount", "axon_id": "axn_1"}]),
    ),
    (
        "create-gateways",
        "gateways",
        lambda rl, _: rl.api.devboxes.create(gateways={"API": {"gateway": "g", "secret": "s"}}),
    ),
    (
        "create-mcp",
        "mcp",
        lambda rl, _: rl.api.devboxes.create(mcp={"MCP": {"mcp_config": "m", "secret": "s"}}),
    ),
    (
        "exec-attach-stdin",
        "attach_stdin",
        lambda rl, d: rl.devbox.from_id(d).cmd.exec("cat", attach_stdin=True),
    ),
    (
        "enable-tunnel",
        "tunnel",
        lambda rl, d: rl.devbox.from_id(d).net.enable_tunnel(auth_mode="open"),
    ),
    ("remove-tunnel", "tunnel", lambda rl, d: rl.devbox.from_id(d).net.remove_tunnel()),
    ("ssh-key", "ssh", lambda rl, d: rl.devbox.from_id(d).net.create_ssh_key()),
    ("pty-tunnel", "pty", lambda rl, d: rl.api.devboxes.create_pty_tunnel(d)),
    (
        "gateway-token",
        "gateways",
        lambda rl, d: rl.api.devboxes.create_gateway_token(d, gateway="gwc_1", secret="S"),
    ),
    (
        "mcp-token",
        "mcp",
        lambda rl, d: rl.api.devboxes.create_mcp_token(d, mcp_config="mcp_1", secret="S"),
    ),
    ("secrets", "secrets", lambda rl, _: rl.secret.create(name="TOKEN", value="v")),
    ("secrets-list", "secrets", lambda rl, _: rl.secret.list()),
    ("network-policies", "network_policies", lambda rl, _: rl.network_policy.list()),
    ("gateway-configs", "gateway_configs", lambda rl, _: rl.gateway_config.list()),
    ("mcp-configs", "mcp_configs", lambda rl, _: rl.mcp_config.list()),
    ("axons", "axons", lambda rl, _: rl.axon.list()),
    ("evictions", "evictions", lambda rl, _: _list(rl.api.devboxes.watch_evictions())),
    (
        "blueprint-services",
        "services",
        lambda rl, _: rl.api.blueprints.create(name="b", services=[{"name": "db", "image": "pg"}]),
    ),
    (
        "blueprint-build-context",
        "build_context",
        lambda rl, _: rl.api.blueprints.create(
            name="b", build_context={"type": "object", "object_id": "obj_1"}
        ),
    ),
]


@pytest.mark.parametrize(
    "field,call", [(f, c) for _, f, c in REFUSED], ids=[name for name, _, _ in REFUSED]
)
def test_refused_calls_raise_bad_request_naming_the_field(
    local_server: Any, field: str, call: Call
) -> None:
    rl = RunloopSDK(base_url=local_server.url, bearer_token=local_server.token, max_retries=0)
    devbox_id = rl.api.devboxes.create_and_await_running().id
    with pytest.raises(BadRequestError) as refused:
        call(rl, devbox_id)
    assert message_of(refused.value).startswith(f"{field}:"), message_of(refused.value)


def test_stdin_to_a_running_execution_is_refused(sdk_no_retry: Runloop) -> None:
    box = sdk_no_retry.devboxes.create_and_await_running()
    running = sdk_no_retry.devboxes.execute_async(box.id, command="sleep 30")
    with pytest.raises(BadRequestError) as refused:
        sdk_no_retry.devboxes.executions.send_std_in(
            running.execution_id, devbox_id=box.id, text="hi"
        )
    assert message_of(refused.value).startswith("stdin:")


def test_refused_devbox_features_of_an_unknown_devbox_are_not_found(sdk_no_retry: Runloop) -> None:
    with pytest.raises(NotFoundError):
        sdk_no_retry.devboxes.enable_tunnel("dbx_missing")
