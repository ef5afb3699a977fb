"""The typed shape of a manifest's `blueprints:` entries (pydantic models); no I/O.

Kept apart from schema.py so the section grows without touching the other sections' models;
cross-field rules (references, cycles, files) live in `blueprints.py`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from reconcile.manifest import quiet_pydantic

quiet_pydantic.plugins_off()  # until the end of this module: its models are built as it runs


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BlueprintKeep(_Strict):
    """Which builds of a blueprint stay; older ones are deleted (never one in use)."""

    last: Annotated[int, Field(ge=1, description="Keep the newest N builds.")]


class BlueprintSpec(_Strict):
    """A blueprint rlstate builds: a Dockerfile (inline or a file) or a base blueprint, setup
    commands and build args. What defines the build is hashed; a change means a new build."""

    dockerfile: str | None = Field(None, description="The Dockerfile's text.")
    dockerfile_file: str | None = Field(
        None, description="A Dockerfile beside the manifest (relative to its folder)."
    )
    base: str | None = Field(
        None,
        description="Build on a blueprint of this manifest, an external blueprint name or a "
        "bpt_ id (instead of a Dockerfile).",
    )
    system_setup_commands: list[str] = Field(
        default_factory=list, description="Commands run in the image after the Dockerfile."
    )
    build_args: dict[str, str] = Field(
        default_factory=dict, description="Values of the Dockerfile's ARGs."
    )
    metadata: dict[str, str] = Field(
        default_factory=dict, description="Extra metadata of each build (string → string)."
    )
    keep: BlueprintKeep | None = Field(
        None, description="Delete builds older than the newest N (never one a devbox uses)."
    )


quiet_pydantic.plugins_restored()
