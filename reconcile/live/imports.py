"""Reads what the manifest's `import:` entries name, whoever owns it; changes nothing.

Discovery lists every devbox and object anyway, so a named devbox or object costs a request
only when the list lacks it (one GET by id). A foreign object's bytes are downloaded and
hashed (two requests) so the planner can adopt it by content; blueprint names are listed once,
only when an adopted devbox's blueprint must be compared with an external blueprint's name (a
declared blueprint's builds are listed by discovery). A blueprint entry costs nothing: it names
a declared blueprint, so discovery lists every build anyway. No entries, no requests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from reconcile.api.client import RunloopClient
from reconcile.api.models import Devbox, StorageObject
from reconcile.errors import ApiNotFoundError
from reconcile.live.model import KEY_STACK, Imported, LiveDevbox, LiveObject

if TYPE_CHECKING:
    from reconcile.manifest.schema import ImportSpec, Manifest

ViewT = TypeVar("ViewT", Devbox, StorageObject)


def import_entries(manifest: Manifest, kind: str) -> dict[str, ImportSpec]:
    """Entries that adopt into `kind`, by the name of the resource they adopt into."""
    prefix = f"{kind}."
    return {i.to[len(prefix) :]: i for i in manifest.imports if i.to.startswith(prefix)}


async def read_imports(
    client: RunloopClient,
    manifest: Manifest,
    devboxes: list[Devbox],
    objects: list[StorageObject],
    as_devbox: Callable[[Devbox], LiveDevbox],
    as_object: Callable[[StorageObject], LiveObject],
) -> Imported:
    """The devboxes and objects the entries name (from the lists, else by id)."""
    if not manifest.imports:
        return Imported()
    missing: set[str] = set()
    listed_boxes = {d.id: d for d in devboxes}
    found_boxes: dict[str, LiveDevbox] = {}
    for entry in import_entries(manifest, "devbox").values():
        view = listed_boxes.get(entry.id or "") or await _get(client.get_devbox, entry.id)
        if view is None:
            missing.add(entry.id or "")
        else:
            found_boxes[view.id] = as_devbox(view)
    listed_objects = {o.id: o for o in objects}
    found_objects: dict[str, LiveObject] = {}
    hashes: dict[str, str] = {}
    for entry in import_entries(manifest, "object").values():
        obj = listed_objects.get(entry.id or "") or await _get(client.get_object, entry.id)
        if obj is None:
            missing.add(entry.id or "")
            continue
        found_objects[obj.id] = as_object(obj)
        if obj.metadata.get(KEY_STACK) is None and obj.state == "READ_ONLY":
            hashes[obj.id] = await _content_sha256(client, obj.id)
    names = await _blueprint_names(client, manifest, found_boxes)
    return Imported(found_boxes, found_objects, hashes, names, frozenset(missing))


async def _get(get: Callable[[str], Awaitable[ViewT]], resource_id: str | None) -> ViewT | None:
    """The resource by id; None when there is no id or the API says 404."""
    if not resource_id:
        return None
    try:
        return await get(resource_id)
    except ApiNotFoundError:
        return None


async def _content_sha256(client: RunloopClient, object_id: str) -> str:
    url = await client.object_download_url(object_id)
    return hashlib.sha256(await client.download_object_bytes(url)).hexdigest()


async def _blueprint_names(
    client: RunloopClient, manifest: Manifest, boxes: dict[str, LiveDevbox]
) -> dict[str, str]:
    """Blueprint id → name, listed only when a foreign devbox's blueprint must be compared
    with a blueprint the manifest names (not a bpt_ id)."""
    wanted = False
    for name, entry in import_entries(manifest, "devbox").items():
        box = boxes.get(entry.id or "")
        spec = manifest.devboxes.get(name)
        blueprint = spec.blueprint or manifest.defaults.blueprint if spec else None
        if blueprint in manifest.blueprints:
            continue  # a declared blueprint is compared by build (its builds are listed anyway)
        if box and box.blueprint_id and box.metadata.get(KEY_STACK) is None:
            wanted = wanted or bool(blueprint and not blueprint.startswith("bpt_"))
    if not wanted:
        return {}
    return {b.id: b.name for b in await client.list_blueprints()}
