"""Which blobs each image uses, and the gate that keeps garbage collection away from live work.

Snapshots and restores run as "work" (many at once); a collection (mark: the blobs of every
manifest; sweep: delete the rest) runs only when no work is in flight and blocks new work while
it runs, so a blob a snapshot has just decided to reuse cannot vanish before its manifest lands.
It does not read disks or write manifests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconcile.localapi.disk.blobs import BlobStore
from reconcile.localapi.disk.cache import SmallIndex
from reconcile.localapi.disk.layout import DiskError
from reconcile.localapi.disk.manifest import (
    Manifest,
    list_image_ids,
    manifest_path,
    read_manifest,
)


@dataclass(frozen=True)
class Collected:
    blobs_removed: int
    bytes_freed: int


class Catalog:
    """Blob references of all images (loaded lazily) and the work/collect gate."""

    def __init__(self, images: Path, blobs: BlobStore) -> None:
        self._images = images
        self._blobs = blobs
        self._cond = threading.Condition()
        self._working = 0
        self._collecting = False
        self._pending = False
        self._refs: dict[str, frozenset[str]] | None = None
        self._unreadable = False
        self._index = SmallIndex()

    @contextmanager
    def work(self) -> Iterator[None]:
        """Hold off collection while the body runs; runs a requested collection afterwards."""
        with self._cond:
            while self._collecting:
                self._cond.wait()
            self._working += 1
        try:
            yield
        finally:
            with self._cond:
                self._working -= 1
                self._cond.notify_all()
            self._collect_if_due()

    def is_busy(self) -> bool:
        return self._working > 0 or self._collecting

    def index(self) -> SmallIndex:
        self._load()
        return self._index

    def published(self, manifest: Manifest) -> None:
        self._load()
        with self._cond:
            assert self._refs is not None
            self._refs[manifest.image_id] = manifest.blobs
        self._index.add_entries(manifest.entries)

    def removed(self, image_id: str) -> None:
        """An image's manifest is gone: collect its unshared blobs as soon as no work runs."""
        with self._cond:
            if self._refs is not None:
                self._refs.pop(image_id, None)
            self._pending = True
        self._collect_if_due()

    def collect(self) -> Collected:
        """Collect now (waiting for running work to finish); returns what was freed."""
        with self._cond:
            while self._collecting or self._working:
                self._cond.wait()
            self._collecting = True
            self._pending = False
        return self._run_collection()

    def _collect_if_due(self) -> None:
        with self._cond:
            if not self._pending or self._working or self._collecting:
                return
            self._collecting = True
            self._pending = False
        self._run_collection()

    def _run_collection(self) -> Collected:
        try:
            self._load()
            assert self._refs is not None
            if self._unreadable:
                return Collected(0, 0)  # a manifest we cannot read may still need any blob
            referenced: set[str] = set().union(*self._refs.values())
            removed, freed = self._blobs.sweep(referenced)
            if removed:
                self._index.drop_blobs(removed)
            return Collected(len(removed), freed)
        finally:
            with self._cond:
                self._collecting = False
                self._cond.notify_all()

    def _load(self) -> None:
        """Read every manifest once: blob references for GC, small-file digests for reuse."""
        if self._refs is not None:
            return
        refs: dict[str, frozenset[str]] = {}
        for image_id in list_image_ids(self._images):
            try:
                manifest = read_manifest(self._images, image_id)
            except DiskError:
                if manifest_path(self._images, image_id).exists():
                    self._unreadable = True
                continue
            refs[image_id] = manifest.blobs
            self._index.add_entries(manifest.entries)
        with self._cond:
            if self._refs is None:
                self._refs = refs
