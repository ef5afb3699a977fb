"""Human descriptions of in-place changes (name, metadata); the only deepdiff import. Pure."""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff


def _key(path: str) -> str:
    # deepdiff paths look like "root['team']"
    return path.removeprefix("root").strip("[]'\"").replace("']['", ".")


def describe_change(field: str, before: Any, after: Any) -> list[str]:
    """Lines such as `metadata.team: "infra" → "core"` for one changed field."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [f"{field}: {before!r} → {after!r}"]
    diff = DeepDiff(before, after, ignore_order=True)
    lines = []
    for path in diff.get("dictionary_item_added", []):
        key = _key(str(path))
        lines.append(f"{field}.{key}: (none) → {after.get(key)!r}")
    for path in diff.get("dictionary_item_removed", []):
        key = _key(str(path))
        lines.append(f"{field}.{key}: {before.get(key)!r} → (none)")
    for path, change in diff.get("values_changed", {}).items():
        lines.append(
            f"{field}.{_key(str(path))}: {change['old_value']!r} → {change['new_value']!r}"
        )
    return sorted(lines)
