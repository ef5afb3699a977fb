"""zstd for image blobs: compress a blob only where it pays, decompress it once per restore.

A blob is stored compressed only when zstd shrinks it by at least 1/16; otherwise it stays raw,
so restoring incompressible data (media, archives, random bytes) costs a plain copy. Whether a
blob is compressed is told by its file name (blobs.py), never guessed from its bytes. Before a
whole chunk is compressed, a few samples of it are: data they show to be incompressible is not
compressed at all (a 1 GiB random file then costs about 1.5% of a full compression pass).
Knows nothing about manifests or where blobs live.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import zstandard

LEVEL = 1  # what `zstd -1` does: cheap enough to run while hashing at disk speed
SAMPLE = 16 << 10  # bytes per sample
SAMPLES = 4
MIN_SAVING = 16  # compressed only if it saves at least 1/MIN_SAVING of the size
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    """One compressor per thread (a ZstdCompressor must not be shared between threads)."""
    comp: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if comp is None:
        comp = zstandard.ZstdCompressor(level=LEVEL)
        _local.compressor = comp
    return comp


def _pays(compressed: int, size: int) -> bool:
    return compressed <= size - size // MIN_SAVING


def _samples_compress(view: memoryview) -> bool:
    size = len(view)
    if size <= SAMPLE * SAMPLES * 2:
        return True  # small: just try the whole thing
    step = size // SAMPLES
    sample = b"".join(view[i * step : i * step + SAMPLE] for i in range(SAMPLES))
    return _pays(len(_compressor().compress(sample)), len(sample))


def compress(data: bytes | bytearray | memoryview) -> bytes | None:
    """zstd of `data` if that shrinks it enough to be worth a decompression, else None."""
    view = memoryview(data)
    if not view or not _samples_compress(view):
        return None
    packed = _compressor().compress(view)
    return packed if _pays(len(packed), len(view)) else None


def decompress(data: bytes, limit: int) -> bytes:
    """The content of a compressed blob; ValueError if it is corrupt or larger than `limit`."""
    try:
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=limit)
    except zstandard.ZstdError as exc:
        raise ValueError(f"corrupt compressed blob: {exc}") from None


class Unpacked:
    """Decompressed blobs shared by the workers of one restore, each kept while still needed.

    `uses` counts the segments the restore will read from each blob; a blob is decompressed at
    its first use and dropped at its last, so a restore holds few blobs in memory at once (packs
    are filled in walk order, which is also the order in which they are restored)."""

    def __init__(self, uses: Counter[str]) -> None:
        self._left = uses
        self._data: dict[str, bytes] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def take(self, name: str, load: Callable[[], bytes]) -> bytes:
        """The content of blob `name` for one segment (load() decompresses it if not held)."""
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            data = self._data.get(name)
            if data is None:
                data = load()
            self._left[name] -= 1
            if self._left[name] > 0:
                self._data[name] = data
            else:
                self._data.pop(name, None)
        return data
