"""The pack blob a snapshot is filling with small files, in reused buffers; no walking, no hashing.

Small files are read straight into the pack's buffer (room() before the read, keep() after it),
so their bytes are copied once, from the page cache into a buffer whose pages were touched
before: a fresh buffer for every file (or every pack) cost more in page faults than the copy
itself. A full pack is written in the background on the caller's pool; its buffer is reused
once written, and at most MAX_WRITING packs wait for their write at once (bounded memory).
"""

from __future__ import annotations

from concurrent.futures import Executor, Future

from reconcile.localapi.disk.blobs import BlobBatch

PACK_LIMIT = 16 << 20
MAX_WRITING = 2


class PackFiller:
    """One snapshot's packs: fill with room()/keep(), then close() and check stored_bytes."""

    def __init__(self, blobs: BlobBatch, pool: Executor) -> None:
        self._blobs = blobs
        self._pool = pool
        self._buffer = bytearray(PACK_LIMIT)
        self._view = memoryview(self._buffer)
        self.name = blobs.new_pack_name()
        self.size = 0
        self.stored_bytes = 0  # bytes written by the packs written so far
        self.written: set[str] = set()  # packs written (or being written) by this filler
        self._writing: list[tuple[Future[int], bytearray]] = []

    def room(self, size: int) -> memoryview:
        """Where the next file of `size` bytes goes (starting a new pack if it would not fit)."""
        if self.size + size > PACK_LIMIT:
            self.flush()
        return self._view[self.size : self.size + size]

    def keep(self, size: int) -> tuple[str, int, int]:
        """Keep the `size` bytes last read into room() in the pack; returns their segment."""
        seg = (self.name, self.size, size)
        self.size += size
        return seg

    def holds(self, name: str) -> bool:
        """Whether `name` is a pack of this snapshot (being filled, or written)."""
        return name == self.name or name in self.written

    def flush(self) -> None:
        """Write the current pack in the background and start the next one."""
        if not self.size:
            return
        write = self._pool.submit(self._blobs.put, self.name, self._view[: self.size])
        self._writing.append((write, self._buffer))
        self.written.add(self.name)
        self._buffer = self._reuse()
        self._view = memoryview(self._buffer)
        self.name = self._blobs.new_pack_name()
        self.size = 0

    def close(self) -> None:
        """Write the last pack and wait for every write (raising the first failure)."""
        self.flush()
        while self._writing:
            self._reap(0)

    def _reuse(self) -> bytearray:
        for i, (write, _) in enumerate(self._writing):
            if write.done():
                return self._reap(i)
        if len(self._writing) >= MAX_WRITING:
            return self._reap(0)
        return bytearray(PACK_LIMIT)

    def _reap(self, i: int) -> bytearray:
        write, buffer = self._writing.pop(i)
        self.stored_bytes += write.result()
        return buffer
