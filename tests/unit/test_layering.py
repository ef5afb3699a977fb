"""Imports point one way: the pure core never reaches the API, the local backend stands alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconcile"

# package (first component under reconcile/) → reconcile packages it may import
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "retention": {"errors"},
    "manifest": {"errors", "manifest"},
    "api": {"errors", "api"},
    "live": {"errors", "live", "api", "manifest"},
    "plan": {"errors", "plan", "manifest", "live", "retention"},
    "apply": {"errors", "apply", "plan", "api", "live"},
    "render": {"errors", "plan", "apply", "retention", "render"},
    "progress": {"errors", "apply", "render", "plan", "progress"},
    "localapi": {"localapi"},
}
# live.model is the one module of `live` that `plan` may use (never discovery, which does I/O)
PLAN_FORBIDDEN = {"reconcile.live.discovery", "reconcile.api"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "reconcile" or name.startswith("reconcile.")}


def _group(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _group(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_what_its_layer_may(path: Path) -> None:
    group = _group(path)
    for name in _imports(path):
        parts = name.split(".")
        target = parts[1] if len(parts) > 1 else "reconcile"
        assert target in ALLOWED[group], f"{group} must not import {name}"
        if group == "plan":
            assert not any(name.startswith(f) for f in PLAN_FORBIDDEN), name


def test_the_layer_table_covers_real_modules() -> None:
    groups = {_group(p) for p in MODULES}
    assert {"plan", "api", "localapi", "manifest", "apply"} <= groups
