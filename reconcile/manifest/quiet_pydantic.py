"""Pydantic's plugin discovery switched off while the manifest's models are built.

Discovery scans every installed distribution's entry points the first time a model is built,
which costs more than building the models, and manifest models are never meant to be
instrumented by plugins (typer does the same for its own adapters). schema.py and
blueprint_schema.py call `plugins_off()` before their models and `plugins_restored()` after
them, so the setting (PYDANTIC_DISABLE_PLUGINS, a documented pydantic switch) never outlives
their import. Calls nest.
"""

from __future__ import annotations

import os

VARIABLE = "PYDANTIC_DISABLE_PLUGINS"
_saved: list[str | None] = []


def plugins_off() -> None:
    """Build the models that follow without pydantic plugins."""
    _saved.append(os.environ.get(VARIABLE))
    os.environ[VARIABLE] = "__all__"


def plugins_restored() -> None:
    """Put the setting back as it was before the matching `plugins_off()`."""
    previous = _saved.pop()
    if previous is None:
        del os.environ[VARIABLE]
    else:
        os.environ[VARIABLE] = previous
