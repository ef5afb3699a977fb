"""Manifest names for what `rlstate generate` writes, made from the names the API lists. Pure."""

from __future__ import annotations

import re

ID_PREFIXES = ("obj_", "snp_", "dbx_", "bpt_")


def manifest_name(name: str | None, resource_id: str, taken: set[str], kind: str = "devbox") -> str:
    """A manifest name (lowercase letters, digits, - and _; at most 63) not in `taken` (which
    it joins): the listed name cleaned up, else `KIND-` and the end of the id."""
    base = re.sub(r"[^a-z0-9_-]+", "-", (name or "").lower()).strip("-_")[:55]
    if not base or base.startswith(ID_PREFIXES):
        tail = resource_id.lower().partition("_")[2] or resource_id.lower()
        base = f"{kind}-" + re.sub(r"[^a-z0-9]", "", tail)[-12:]
    chosen, n = base, 2
    while chosen in taken:
        chosen, n = f"{base}-{n}", n + 1
    taken.add(chosen)
    return chosen
