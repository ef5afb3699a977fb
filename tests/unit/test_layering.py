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
    "pruning": {"errors", "retention"},
    "simulation": {"errors", "retention", "pruning"},
    "monitoring": {"errors", "retention"},
    "verification": {"errors", "retention"},
    "stamps": {"errors", "retention", "live"},
    "manifest": {"errors", "manifest"},
    "api": {"errors", "api"},
    "live": {"errors", "live", "api", "manifest"},
    "plan": {
        *("errors", "plan", "manifest", "live", "retention"),
        *("pruning", "simulation", "monitoring", "stamps", "verification"),
    },
    "apply": {"errors", "apply", "plan", "api", "live", "verification"},
    "render": {"errors", "plan", "apply", "retention", "render"},
    "progress": {"errors", "apply", "render", "plan", "progress"},
    "localapi": {"localapi"},
    "lockbackend": {"errors", "lockbackend", "apply"},
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
        if group in ("plan", "stamps"):
            assert not any(name.startswith(f) for f in PLAN_FORBIDDEN), name


# Inside the local backend: web → workers → state → sandbox → disk, nothing imports upward.
# services.py wires the layers together for web; config.py and signing.py import nothing local.
LOCALAPI = PACKAGE / "localapi"
LOCALAPI_RANK = {
    "web": 6,
    "services": 5,
    "workers": 4,
    "state": 3,
    "sandbox": 2,
    "disk": 1,
    "config": 0,
    "signing": 0,
}
LOCALAPI_MODULES = sorted(LOCALAPI.rglob("*.py"))


def _localapi_rank(parts: tuple[str, ...]) -> int:
    """The rank of reconcile/localapi/<parts>; the package's own __init__ sits above everything."""
    if not parts or parts[0] == "__init__":
        return max(LOCALAPI_RANK.values()) + 1
    return LOCALAPI_RANK[parts[0]]


def _localapi_targets(path: Path) -> set[tuple[str, ...]]:
    """The localapi modules `path` imports, as parts under reconcile/localapi."""
    found: set[tuple[str, ...]] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "reconcile.localapi":
                names = [f"reconcile.localapi.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(tuple(n.split(".")[2:]) for n in names if n.startswith("reconcile.localapi."))
    return found


@pytest.mark.parametrize("path", LOCALAPI_MODULES, ids=lambda p: str(p.relative_to(LOCALAPI)))
def test_localapi_layers_import_only_downward(path: Path) -> None:
    own_parts = path.relative_to(LOCALAPI).with_suffix("").parts
    own = _localapi_rank(own_parts)
    for target in _localapi_targets(path):
        if target[0] == own_parts[0]:
            continue  # within one layer
        assert _localapi_rank(target) < own, f"{'/'.join(own_parts)} must not import {target}"


def test_the_layer_table_covers_real_modules() -> None:
    groups = {_group(p) for p in MODULES}
    assert {"plan", "api", "localapi", "manifest", "apply"} <= groups
    layers = {p.relative_to(LOCALAPI).parts[0].removesuffix(".py") for p in LOCALAPI_MODULES}
    assert layers - {"__init__"} == set(LOCALAPI_RANK)
