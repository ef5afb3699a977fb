"""Saved plans on disk: where they go, writing them atomically, telling one apart, reading one.

The one module of `plan` that does I/O (files only); the commands call it, the planner never.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from reconcile.errors import PlanFileError
from reconcile.plan.model import Plan

PLAN_DIR = ".rlstate"


def default_plan_path(manifest_path: Path) -> Path:
    return manifest_path.resolve().parent / PLAN_DIR / "plan.json"


def save_plan(plan: Plan, path: Path) -> None:
    """Write the plan file atomically (temp file + rename), readable only by the user."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plan-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            handle.write(plan.to_json())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        reason = "it is a folder" if path.is_dir() else error.strerror or str(error)
        raise PlanFileError(
            f"cannot save the plan to {path}: {reason} (choose another with --out FILE)"
        ) from None


PLAN_MARK = "format_version"


def _plan_data(text: str) -> dict[str, Any] | None:
    """The JSON object of a saved plan, or None when text is not one."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and PLAN_MARK in data else None


def looks_like_plan(path: Path) -> bool:
    """Whether a file is a saved plan (a JSON object with a format_version), whatever its name."""
    try:
        return path.is_file() and _plan_data(path.read_text()) is not None
    except (OSError, UnicodeDecodeError):
        return False


def load_plan(path: Path) -> Plan:
    """A saved plan; PlanFileError naming the file when it cannot be read or is not a plan."""
    if path.is_dir():
        raise PlanFileError(f"{path}: is a folder, not a saved plan")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise PlanFileError(f"{path}: cannot read the saved plan ({reason})") from None
    data = _plan_data(text)
    if data is None:
        raise PlanFileError(
            f"{path}: not a saved plan (expected the JSON that `rlstate plan` writes"
            f"{'; it is cut short or damaged' if text.lstrip().startswith('{') else ''})"
        )
    try:
        return Plan.from_dict(data)
    except PlanFileError as error:
        message = str(error)
        if message.startswith("plan file "):
            message = f"cannot use the saved plan ({message.removeprefix('plan file ')})"
        raise PlanFileError(f"{path}: {message}") from None
