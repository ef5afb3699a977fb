"""What a run tells its history (each action's result, how it ended), as plain values.

Kept apart from `history` (which needs psycopg) because every apply, destroy and retain builds
these records, also under the local file lock where no database is set or installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ActionResult:
    """How one action of a run ended (done, failed, skipped)."""

    id: str
    address: str
    kind: str
    state: str
    message: str
    resource_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "address": self.address, "kind": self.kind, "state": self.state}
        data["message"] = self.message
        if self.resource_id:
            data["resource_id"] = self.resource_id
        return data


@dataclass(frozen=True)
class RunEnd:
    """What a run leaves in its history row when it ends."""

    exit_status: int
    plan_digest: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    error: str | None = None
    actions: Sequence[ActionResult] = ()
