"""A blueprint build's definition as the API echoes it (the view's `parameters`), in the
manifest's terms. Pure: a view's fields in, plain values out; no requests.

Blueprint metadata cannot be updated, so a build rlstate did not make can never carry its
marks: an adopted build is recognised by comparing this echoed definition with the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Build parameters a manifest blueprint cannot declare: a build that has any of them set is
# not one the manifest describes (a build made from the manifest would lack them).
NOT_DECLARABLE = (
    "file_mounts",
    "launch_parameters",
    "code_mounts",
    "services",
    "secrets",
    "build_context",
    "network_policy_id",
)


@dataclass(frozen=True)
class EchoedBuild:
    """What defines a build, as echoed: the Dockerfile's text, the base (by id as resolved,
    and by name when it was asked for by name), setup commands, build args; the parameters
    set that a manifest cannot declare."""

    dockerfile: str | None
    base_id: str | None
    base_name: str | None
    system_setup_commands: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    undeclarable: tuple[str, ...] = ()


def echoed_build(
    parameters: dict[str, Any] | None, base_blueprint_id: str | None
) -> EchoedBuild | None:
    """The build's definition from its view (`parameters`, `base_blueprint_id`); None when the
    API did not echo its parameters (then it cannot be compared)."""
    if not isinstance(parameters, dict):
        return None
    commands = parameters.get("system_setup_commands") or []
    args = parameters.get("build_args") or {}
    return EchoedBuild(
        dockerfile=_text(parameters.get("dockerfile")),
        base_id=_text(parameters.get("base_blueprint_id")) or base_blueprint_id,
        base_name=_text(parameters.get("base_blueprint_name")),
        system_setup_commands=[str(c) for c in commands] if isinstance(commands, list) else [],
        build_args={str(k): str(v) for k, v in args.items()} if isinstance(args, dict) else {},
        undeclarable=tuple(k for k in NOT_DECLARABLE if parameters.get(k)),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
