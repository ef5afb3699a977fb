"""Writes the Prometheus metrics file for node_exporter's textfile collector atomically: the text
goes to a temporary file in the same folder, is flushed to disk, then renamed over the target,
so the collector never reads a half-written file. No decisions here."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from reconcile.errors import UserError


def write_metrics(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename (0644: the collector runs as another user)."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise UserError(f"{path}: no such folder for the metrics file")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
