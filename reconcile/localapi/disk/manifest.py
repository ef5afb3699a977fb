"""Image manifests: the list of a disk's entries and where their bytes live; no walking, no blobs.

An image exists exactly when `images/<id>.json` exists. It is written to a temporary name,
fsynced, renamed and its folder fsynced, so a crash leaves either the whole manifest or none
(stray temporaries start with "." and are never listed).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconcile.localapi.disk.blobs import fsync_dir, write_synced
from reconcile.localapi.disk.layout import DiskError

FORMAT = "rlstate-image/1"
DIR, FILE, LINK = "d", "f", "l"
# (blob name, offset in the blob, length); blob "" is a hole (zeros not stored).
Segment = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class Entry:
    """One path of a disk (relative to the disk folder, '/'-separated) and its metadata."""

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    size: int = 0
    segments: tuple[Segment, ...] = ()
    digest: str = ""  # sha256 of a packed small file, so later images can reuse its bytes
    target: str = ""  # symlink target


@dataclass(frozen=True)
class Manifest:
    image_id: str
    entries: Sequence[Entry]
    logical_bytes: int
    source: str = ""
    blobs: frozenset[str] = field(default=frozenset())


def blob_names(entries: Iterable[Entry]) -> frozenset[str]:
    return frozenset(seg[0] for e in entries for seg in e.segments if seg[0])


def _encode(entry: Entry) -> list[object]:
    tail: object = entry.target if entry.kind == LINK else [list(s) for s in entry.segments]
    row: list[object] = [entry.path, entry.kind, entry.mode, entry.uid, entry.gid, entry.mtime_ns]
    if entry.kind == DIR:
        return row
    row += [entry.size, tail]
    if entry.digest:
        row.append(entry.digest)
    return row


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("expected an integer")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _decode(row: list[object]) -> Entry:
    path, kind = _str(row[0]), _str(row[1])
    mode, uid, gid, mtime = (_int(v) for v in row[2:6])
    if kind == DIR:
        return Entry(path, kind, mode, uid, gid, mtime)
    size, tail = _int(row[6]), row[7]
    if kind == LINK:
        return Entry(path, kind, mode, uid, gid, mtime, size, target=_str(tail))
    if kind != FILE or not isinstance(tail, list):
        raise ValueError(f"bad entry kind {kind!r}")
    segments = tuple((_str(s[0]), _int(s[1]), _int(s[2])) for s in tail)
    digest = _str(row[8]) if len(row) > 8 else ""
    return Entry(path, kind, mode, uid, gid, mtime, size, segments, digest)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Durably publish a manifest (its blobs must already be durable)."""
    body = {
        "format": FORMAT,
        "image_id": manifest.image_id,
        "source": manifest.source,
        "logical_bytes": manifest.logical_bytes,
        "entries": [_encode(e) for e in manifest.entries],
    }
    data = json.dumps(body, separators=(",", ":")).encode()
    tmp = folder / f".{manifest.image_id}.{uuid.uuid4().hex}.tmp"
    write_synced(tmp, data, 0o600)
    os.rename(tmp, manifest_path(folder, manifest.image_id))
    fsync_dir(folder)


def read_manifest(folder: Path, image_id: str) -> Manifest:
    try:
        body = json.loads(manifest_path(folder, image_id).read_bytes())
    except FileNotFoundError:
        raise DiskError(f"image {image_id} does not exist") from None
    except (OSError, ValueError) as exc:
        raise DiskError(f"image {image_id} is unreadable: {exc}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise DiskError(f"image {image_id} has an unknown format")
    try:
        entries = [_decode(row) for row in body["entries"]]
        logical = int(body["logical_bytes"])
    except (IndexError, KeyError, TypeError, ValueError):
        raise DiskError(f"image {image_id} is corrupt") from None
    return Manifest(
        image_id=image_id,
        entries=entries,
        logical_bytes=logical,
        source=str(body.get("source", "")),
        blobs=blob_names(entries),
    )


def manifest_path(folder: Path, image_id: str) -> Path:
    return folder / f"{image_id}.json"


def list_image_ids(folder: Path) -> list[str]:
    return sorted(
        name[: -len(".json")]
        for name in os.listdir(folder)
        if name.endswith(".json") and not name.startswith(".")
    )


def remove_manifest(folder: Path, image_id: str) -> bool:
    try:
        manifest_path(folder, image_id).unlink()
    except FileNotFoundError:
        return False
    fsync_dir(folder)
    return True


def remove_temporaries(folder: Path) -> None:
    """Drop manifests a crash left half-written (they were never visible as images)."""
    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(".tmp"):
            (folder / name).unlink(missing_ok=True)
