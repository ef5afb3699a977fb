"""Writes the Prometheus metrics file for node_exporter's textfile collector atomically: the text
goes to a temporary file in the same folder, is flushed to disk, then renamed over the target,
so the collector never reads a half-written file. No decisions here."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from reconcile.errors import UserError


def check_metrics_path(path: Path) -> Path:
    """The folder the metrics file goes in; UserError when `path` cannot be that file."""
    if path.is_dir():
        raise UserError(f"{path}: is a folder; --prometheus takes a file, e.g. {path}/rlstate.prom")
    folder = path.resolve().parent
    if not folder.is_dir():
        raise UserError(f"{path}: no such folder for the metrics file")
    return folder


def write_metrics(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename (0644: the collector runs as another user)."""
    folder = check_metrics_path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise UserError(f"{path}: cannot write the metrics file: {error.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise UserError(f"{path}: cannot write the metrics file: {error.strerror}") from None
        raise
