"""Fingerprints of the live state a plan read, and why a saved plan is stale. Pure.

A plan keeps the fingerprint of each live resource it touches and the digest of the stack's
member set per kind; `apply` re-reads live state and refuses a plan whose touched resources or
members changed (Terraform's "saved plan is stale").
"""

from __future__ import annotations

import hashlib

from reconcile.live.model import (
    KEY_STACK,
    LiveBlueprint,
    LiveDevbox,
    LiveObject,
    LiveSnapshot,
    LiveState,
    fingerprint,
)

MEMBERS = ("devbox", "object", "snapshot")
_PLURAL = {"devbox": "devboxes", "object": "objects", "snapshot": "snapshots"}


def _members(live: LiveState) -> dict[str, str]:
    ids = {
        "devbox": sorted(
            d.id for d in live.devboxes if d.metadata.get(KEY_STACK) == live.stack and d.active
        ),
        "object": sorted(o.id for o in live.objects if o.metadata.get(KEY_STACK) == live.stack),
        "snapshot": sorted(s.id for s in live.snapshots if s.metadata.get(KEY_STACK) == live.stack),
    }
    return {
        f"members:{kind}": hashlib.sha256(",".join(ids[kind]).encode()).hexdigest()[:16]
        for kind in MEMBERS
    }


def _by_id(live: LiveState) -> dict[str, str]:
    resources: list[LiveDevbox | LiveObject | LiveSnapshot | LiveBlueprint] = [
        *live.imported.devboxes.values(),
        *live.devboxes,
        *live.objects,
        *live.snapshots,
        *live.blueprints,
    ]
    return {res.id: fingerprint(res) for res in resources}


def plan_fingerprints(live: LiveState, touched: set[str]) -> dict[str, str]:
    """What apply will check: each touched resource's fingerprint, and the member sets."""
    everything: list[LiveDevbox | LiveObject | LiveSnapshot | LiveBlueprint] = [
        *live.imported.devboxes.values(),
        *live.devboxes,
        *live.objects,
        *live.snapshots,
        *live.blueprints,
    ]
    current = {res.id: fingerprint(res) for res in everything if res.id in touched}
    prints = {rid: current[rid] for rid in sorted(touched) if rid in current}
    prints.update(_members(live))
    return prints


def stale_reasons(saved: dict[str, str], live: LiveState) -> list[str]:
    """Human reasons why live state no longer matches a plan's fingerprints (empty: fresh)."""
    current = _by_id(live)
    members = _members(live)
    reasons = []
    for key, value in saved.items():
        if key.startswith("members:"):
            if members.get(key) != value:
                reasons.append(f"the stack's {_PLURAL[key.split(':')[1]]} were added or removed")
        elif key not in current:
            reasons.append(f"{key} no longer exists")
        elif current[key] != value:
            reasons.append(f"{key} changed")
    return reasons
