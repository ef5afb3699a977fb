"""Routes for Runloop features the local server deliberately does not offer: each answers 400 with a
message that starts with the feature's field or resource name (never 404, which would read as "no
such devbox", and never 5xx, which the SDK would retry for half a minute). No state changes here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconcile.localapi.state.problems import Invalid
from reconcile.localapi.web.routes.common import services

# devbox action -> (field named in the message, why)
_DEVBOX_ACTIONS = {
    "enable_tunnel": ("tunnel", "tunnels are not supported by the local server"),
    "remove_tunnel": ("tunnel", "tunnels are not supported by the local server"),
    "create_ssh_key": ("ssh", "SSH access is not supported by the local server"),
    "create_pty_tunnel": ("pty", "PTY sessions are not supported by the local server"),
    "create_gateway_token": ("gateways", "gateways are not supported by the local server"),
    "create_mcp_token": ("mcp", "MCP is not supported by the local server"),
    "logs/tail": ("logs", "live tailing is not supported; GET /v1/devboxes/{id}/logs answers"),
}
# account-wide resources: path prefix -> the resource named in the message
_RESOURCES = {
    "/v1/secrets": "secrets",
    "/v1/network-policies": "network_policies",
    "/v1/gateway-configs": "gateway_configs",
    "/v1/mcp-configs": "mcp_configs",
    "/v1/axons": "axons",
    "/v1/accounts": "accounts",
    "/v1/apikeys": "apikeys",
    "/v1/restricted_keys": "restricted_keys",
    "/v1/devboxes/evictions/watch": "evictions",
}
_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def devbox_action(request: Request) -> Response:
    """Unknown devbox: 404 as everywhere; known devbox: 400 naming the feature."""
    services(request).backend.devbox(request.path_params["id"])
    action = request.url.path.split("/", 4)[4]
    field, why = _DEVBOX_ACTIONS[action]
    raise Invalid(f"{field}: {why}")


async def resource(request: Request) -> Response:
    prefix = next(p for p in _RESOURCES if request.url.path.startswith(p))
    raise Invalid(f"{_RESOURCES[prefix]}: not supported by the local server")


ROUTES = [
    *(Route(f"/v1/devboxes/{{id}}/{a}", devbox_action, methods=_ANY) for a in _DEVBOX_ACTIONS),
    *(Route(prefix, resource, methods=_ANY) for prefix in _RESOURCES),
    *(Route(f"{prefix}/{{rest:path}}", resource, methods=_ANY) for prefix in _RESOURCES),
]
