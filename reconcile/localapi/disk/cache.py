"""Memory of already-stored content, so snapshots skip work; never the source of truth.

- HashCache (one per devbox): path → the file's stat identity and where its bytes were stored at
  the last save or restore. A file whose (size, mtime, ctime, inode) is unchanged is not read
  again. Like git's "racily clean" rule, an entry is trusted only if its ctime is older than the
  moment before its stat (minus a margin): a write in the same timestamp tick as our stat would
  leave all four unchanged. A snapshot therefore seals its cache with the time it started, not
  the time it ended. The margin covers the file system's timestamp granularity: a ctime on a
  whole second (ext4 with 128-byte inodes, ext3, FAT) gets a margin of two seconds.
- SmallIndex (one per store): sha256 of a small file → its bytes inside some pack, so identical
  small files are stored once across all images, even without a HashCache.
Both live in memory only; losing them costs time, never correctness. Callers must check that
reused blobs still exist.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from reconcile.localapi.disk.manifest import Entry, Segment

RACY_MARGIN_NS = 50_000_000  # far above a kernel timestamp tick (≤ 10 ms)
COARSE_MARGIN_NS = 2_000_000_000  # whole-second timestamps (1 s; FAT: 2 s)
_SECOND_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class CachedFile:
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    segments: tuple[Segment, ...]
    digest: str


class HashCache:
    """What one devbox's files held when last stored; see the module docstring."""

    def __init__(self, files: dict[str, CachedFile] | None = None, written_ns: int = 0) -> None:
        self.files: dict[str, CachedFile] = files or {}
        self.written_ns = written_ns

    def lookup(self, path: str, st: os.stat_result) -> CachedFile | None:
        hit = self.files.get(path)
        if hit is None:
            return None
        same = (hit.size, hit.mtime_ns, hit.ctime_ns, hit.ino) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
        )
        if not same or hit.ctime_ns >= self.written_ns - racy_margin(hit.ctime_ns):
            return None
        return hit

    def record(self, path: str, st: os.stat_result, entry: Entry) -> None:
        self.files[path] = CachedFile(
            st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, entry.segments, entry.digest
        )

    def seal(self, stats_since_ns: int | None = None) -> None:
        """Mark the cache complete. `stats_since_ns`: a moment before the first stat that went
        into it, when files could change while it was filled (a snapshot of a live disk); by
        default now, for a cache of files nothing else can write yet (a restore)."""
        self.written_ns = time.time_ns() if stats_since_ns is None else stats_since_ns


def racy_margin(ctime_ns: int) -> int:
    """How long after `ctime_ns` a change can still leave the same timestamp: a kernel tick, or
    a whole second where the file system stores whole seconds (a ctime on a second boundary;
    on a fine-grained one that is rare, and costs only one re-read)."""
    return RACY_MARGIN_NS if ctime_ns % _SECOND_NS else COARSE_MARGIN_NS


class SmallIndex:
    """sha256 of a small file's content → a segment of a pack holding exactly those bytes."""

    def __init__(self) -> None:
        self._segments: dict[str, Segment] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Segment | None:
        return self._segments.get(digest)

    def add_entries(self, entries: Iterable[Entry]) -> None:
        with self._lock:
            for e in entries:
                if e.digest and e.segments:
                    self._segments.setdefault(e.digest, e.segments[0])

    def drop_blobs(self, gone: set[str]) -> None:
        with self._lock:
            self._segments = {d: s for d, s in self._segments.items() if s[0] not in gone}
