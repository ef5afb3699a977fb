"""Devbox disks and content-addressed images of the local server; must not import the reconciler.

Layout under `root`:
    disks/<devbox_id>/        a devbox's disk (home/user, tmp, var/tmp, opt; see layout.py)
    images/<image_id>.json    an image manifest; the image exists exactly when this file does
    blobs/ab/cdef…[.z]        content chunks (sha256 names) and small-file packs, write-once,
                              zstd-compressed (.z) where that pays
    tmp/  trash/              unfinished work (cleaned on start) and trees awaiting deletion

A per-devbox HashCache (in memory only) remembers what each file held at the last save or
restore, so an unchanged file is not read again; after a restart the first snapshot re-reads
everything but still stores only new content.

All methods block; the server calls them through asyncio.to_thread. One process owns a root.
"""

from __future__ import annotations

import os
import stat
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reconcile.localapi.disk.archive import unpack, write_plain
from reconcile.localapi.disk.blobs import BlobStore
from reconcile.localapi.disk.cache import HashCache
from reconcile.localapi.disk.capture import Capture, CaptureStats
from reconcile.localapi.disk.catalog import Catalog, Collected
from reconcile.localapi.disk.layout import (
    DEVBOX_GID,
    DEVBOX_UID,
    HOME,
    WRITABLE_ROOTS,
    DiskError,
    check_id,
    ensure_layout,
    make_fresh_disk,
    spread_subfolders,
)
from reconcile.localapi.disk.manifest import (
    Manifest,
    blob_names,
    list_image_ids,
    manifest_path,
    read_manifest,
    remove_manifest,
    remove_temporaries,
    write_manifest,
)
from reconcile.localapi.disk.paths import open_in_disk, resolve_in_disk
from reconcile.localapi.disk.restore import restore_entries
from reconcile.localapi.disk.trash import Trash

__all__ = [
    "DEVBOX_GID",
    "DEVBOX_UID",
    "HOME",
    "WRITABLE_ROOTS",
    "CaptureStats",
    "Collected",
    "DiskError",
    "DiskStore",
]


class DiskStore:
    """Per-devbox disks and content-addressed images (snapshots, blueprint images) under `root`."""

    def __init__(self, root: Path, workers: int | None = None) -> None:
        self.root = Path(root)
        for sub in ("disks", "images", "blobs", "tmp", "trash"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._images = self.root / "images"
        self._tmp = self.root / "tmp"
        self._blobs = BlobStore(self.root / "blobs", self._tmp)
        self._catalog = Catalog(self._images, self._blobs)
        self._trash = Trash(self.root / "trash", self._catalog.is_busy)
        self._pool = ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1))
        self._caches: dict[str, HashCache] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        spread_subfolders(self._tmp)  # disks are built in tmp/: see spread_subfolders
        self._recover()

    # -- disks ---------------------------------------------------------------------------------

    def disk_path(self, devbox_id: str) -> Path:
        return self.root / "disks" / check_id("devbox", devbox_id)

    def create_disk(self, devbox_id: str, image_id: str | None = None) -> Path:
        """Make the devbox's disk: a fresh default home, or exactly the content of an image.

        The new disk is built in a fresh folder and renamed into place when complete; a disk the
        devbox had before is moved to the trash."""
        disk = self.disk_path(devbox_id)
        staging = self._tmp / f"disk-{devbox_id}-{uuid.uuid4().hex}"
        with self._catalog.work():
            try:
                cache = self._build_disk(staging, image_id)
            except BaseException:
                if staging.exists():
                    self._trash.discard(staging)
                raise
            with self._lock(devbox_id):
                if disk.exists():
                    self._trash.discard(disk)
                os.rename(staging, disk)
                self._caches[devbox_id] = cache
        return disk

    def _build_disk(self, staging: Path, image_id: str | None) -> HashCache:
        if image_id is None:
            make_fresh_disk(staging)
            return HashCache()
        manifest = read_manifest(self._images, check_id("image", image_id))
        try:
            cache = restore_entries(manifest.entries, self._blobs, staging, self._pool)
        except FileNotFoundError as exc:
            raise DiskError(f"image {image_id} is missing data ({exc.filename})") from None
        except ValueError as exc:
            raise DiskError(f"image {image_id} is damaged: {exc}") from None
        ensure_layout(staging)
        return cache

    def delete_disk(self, devbox_id: str) -> None:
        """Remove the devbox's disk (moved to the trash now, deleted in the background)."""
        disk = self.disk_path(devbox_id)
        with self._lock(devbox_id):
            if disk.exists():
                self._trash.discard(disk)
            self._caches.pop(devbox_id, None)

    # -- images --------------------------------------------------------------------------------

    def save_image(self, devbox_id: str, image_id: str) -> int:
        """Capture the devbox's disk as image `image_id`; returns its logical size in bytes."""
        return self.capture(devbox_id, image_id).logical_bytes

    def capture(self, devbox_id: str, image_id: str) -> CaptureStats:
        """save_image, returning what the snapshot did (bytes hashed, bytes newly stored, …)."""
        disk = self.disk_path(devbox_id)
        check_id("image", image_id)
        if not disk.is_dir():
            raise DiskError(f"devbox {devbox_id} has no disk")
        if self.image_exists(image_id):
            raise DiskError(f"image {image_id} already exists")
        with self._catalog.work(), self._lock(devbox_id):
            old = self._caches.get(devbox_id, HashCache())
            batch = self._blobs.new_batch()
            capture = Capture(batch, self._pool, self._catalog.index(), old_cache=old)
            try:
                entries = capture.run(disk)
                batch.commit()  # the blobs are durable before any manifest names them
            except OSError as exc:
                batch.discard()
                raise DiskError(f"cannot snapshot devbox {devbox_id}: {exc}") from None
            except BaseException:
                batch.discard()
                raise
            logical = capture.stats.logical_bytes
            blobs = blob_names(entries)
            manifest = Manifest(image_id, entries, logical, source=devbox_id, blobs=blobs)
            write_manifest(self._images, manifest)
            self._catalog.published(manifest)
            self._caches[devbox_id] = capture.cache
        return capture.stats

    def delete_image(self, image_id: str) -> None:
        """Drop the image; blobs no other image uses are deleted once no snapshot/restore runs."""
        if remove_manifest(self._images, check_id("image", image_id)):
            self._catalog.removed(image_id)

    def image_exists(self, image_id: str) -> bool:
        return manifest_path(self._images, check_id("image", image_id)).is_file()

    def list_images(self) -> list[str]:
        """Ids of complete images (a half-written one never appears)."""
        return list_image_ids(self._images)

    def image_size(self, image_id: str) -> int:
        return read_manifest(self._images, check_id("image", image_id)).logical_bytes

    def collect_garbage(self) -> Collected:
        """Delete unreferenced blobs now (normally automatic after delete_image)."""
        return self._catalog.collect()

    def stored_bytes(self) -> int:
        """Bytes of all blobs on disk (what the images cost, shared content counted once)."""
        return self._blobs.total_bytes()

    def flush_trash(self) -> None:
        """Delete trashed trees now instead of in the background (tests, benchmarks)."""
        self._trash.empty_now()

    def close(self) -> None:
        """Stop the workers: queued chunk and file jobs are dropped, so a snapshot or restore
        still running fails at its next job instead of holding the server's exit (for minutes
        on a big disk); what it left half-done is cleaned up at the next start."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- files of a devbox ---------------------------------------------------------------------

    def host_path(self, devbox_id: str, path: str) -> Path:
        """Map a devbox path (relative → under /home/user) to the host path on its disk.

        Raises DiskError when the path is outside the writable roots or escapes through `..` or
        a symlink. For content prefer write_file/read_file: they cannot be raced by the devbox."""
        return resolve_in_disk(self._existing_disk(devbox_id), path)

    def write_file(self, devbox_id: str, path: str, data: bytes) -> None:
        """Write a file (parents created), owned by the devbox user."""
        write_plain(self._existing_disk(devbox_id), path, data)

    def read_file(self, devbox_id: str, path: str) -> bytes:
        fd, _ = open_in_disk(self._existing_disk(devbox_id), path, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise DiskError(f"{path} is a directory")
            if not stat.S_ISREG(st.st_mode):
                raise DiskError(f"{path} is not a regular file")
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def unpack_archive(self, devbox_id: str, path: str, data: bytes, content_type: str) -> None:
        """Object mounts: tar/tgz/gzip unpacked into folder `path`; no member escapes it."""
        unpack(self._existing_disk(devbox_id), path, data, content_type)

    # -- internals -----------------------------------------------------------------------------

    def _existing_disk(self, devbox_id: str) -> Path:
        disk = self.disk_path(devbox_id)
        if not disk.is_dir():
            raise DiskError(f"devbox {devbox_id} has no disk")
        return disk

    def forget_hashes(self, devbox_id: str) -> None:
        """Drop the devbox's HashCache (the next snapshot re-reads every file; benchmarks)."""
        self._caches.pop(devbox_id, None)

    def _lock(self, devbox_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(devbox_id, threading.Lock())

    def _recover(self) -> None:
        """Drop what a crash left half-done: manifests, blobs and disks being written.

        Complete blobs no manifest references stay until the next collection."""
        remove_temporaries(self._images)
        for item in os.scandir(self._tmp):
            self._trash.discard(Path(item.path))
