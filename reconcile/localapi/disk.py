"""Per-devbox disks and their images for the local server; must not import the reconciler.

First, simple version: a disk is a folder per devbox, an image is a full copy of it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
import uuid
from pathlib import Path, PurePosixPath

DEVBOX_UID = 1000
DEVBOX_GID = 1000
HOME = "/home/user"
# Absolute devbox paths on the devbox's own disk (everything else is the read-only system).
WRITABLE_ROOTS = ("/home/user", "/tmp", "/var/tmp", "/opt")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class DiskError(Exception):
    """Any failure of a disk operation; the message is meant for the user."""


def _check_id(kind: str, value: str) -> str:
    if not _ID.match(value) or ".." in value:
        raise DiskError(f"invalid {kind} id {value!r}")
    return value


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        os.lchown(path, DEVBOX_UID, DEVBOX_GID)


class DiskStore:
    """Per-devbox disks and content-addressed images (snapshots, blueprint images) under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("disks", "images", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def disk_path(self, devbox_id: str) -> Path:
        return self.root / "disks" / _check_id("devbox", devbox_id)

    def create_disk(self, devbox_id: str, image_id: str | None = None) -> Path:
        disk = self.disk_path(devbox_id)
        staging = self.root / "tmp" / f"disk-{devbox_id}-{uuid.uuid4().hex}"
        if image_id is None:
            _make_fresh_disk(staging)
        else:
            src = self._image_dir(image_id)
            if not src.is_dir():
                raise DiskError(f"image {image_id} does not exist")
            shutil.copytree(src, staging, symlinks=True)
        if disk.exists():
            self.delete_disk(devbox_id)
        os.rename(staging, disk)
        return disk

    def delete_disk(self, devbox_id: str) -> None:
        disk = self.disk_path(devbox_id)
        if disk.exists():
            trash = self.root / "tmp" / f"trash-{uuid.uuid4().hex}"
            os.rename(disk, trash)
            shutil.rmtree(trash, ignore_errors=True)

    def save_image(self, devbox_id: str, image_id: str) -> int:
        disk = self.disk_path(devbox_id)
        if not disk.is_dir():
            raise DiskError(f"devbox {devbox_id} has no disk")
        target = self._image_dir(image_id)
        staging = self.root / "tmp" / f"image-{image_id}-{uuid.uuid4().hex}"
        shutil.copytree(disk, staging, symlinks=True)
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)
        return sum(p.lstat().st_size for p in target.rglob("*") if p.is_file())

    def delete_image(self, image_id: str) -> None:
        target = self._image_dir(image_id)
        if target.exists():
            shutil.rmtree(target)

    def image_exists(self, image_id: str) -> bool:
        return self._image_dir(image_id).is_dir()

    def list_images(self) -> list[str]:
        return sorted(p.name for p in (self.root / "images").iterdir())

    def _image_dir(self, image_id: str) -> Path:
        return self.root / "images" / _check_id("image", image_id)

    def host_path(self, devbox_id: str, path: str) -> Path:
        disk = self.disk_path(devbox_id)
        rel = _devbox_relative(path)
        candidate = disk / rel
        resolved = candidate.resolve()
        if not resolved.is_relative_to(disk.resolve()):
            raise DiskError(f"path {path!r} escapes the devbox disk")
        return candidate

    def write_file(self, devbox_id: str, path: str, data: bytes) -> None:
        target = self.host_path(devbox_id, path)
        _make_parents(target.parent, self.disk_path(devbox_id))
        target.write_bytes(data)
        _chown(target)

    def read_file(self, devbox_id: str, path: str) -> bytes:
        target = self.host_path(devbox_id, path)
        try:
            return target.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise DiskError(f"no file at {path}") from exc

    def unpack_archive(self, devbox_id: str, path: str, data: bytes, content_type: str) -> None:
        target = self.host_path(devbox_id, path)
        _make_parents(target, self.disk_path(devbox_id))
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                tar.extractall(target, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise DiskError(f"cannot unpack archive into {path}: {exc}") from exc


def _devbox_relative(path: str) -> PurePosixPath:
    p = PurePosixPath(path)
    if not p.is_absolute():
        p = PurePosixPath(HOME) / p
    if ".." in p.parts:
        raise DiskError(f"path {path!r} may not contain '..'")
    if not any(p == PurePosixPath(r) or p.is_relative_to(r) for r in WRITABLE_ROOTS):
        raise DiskError(f"path {path!r} is outside the devbox's writable disk")
    return p.relative_to("/")


def _make_parents(folder: Path, disk: Path) -> None:
    missing = []
    p = folder
    while not p.exists() and p != disk:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir()
        _chown(d)


def _make_fresh_disk(disk: Path) -> None:
    disk.mkdir(parents=True)
    for rel, mode in (("home/user", 0o755), ("tmp", 0o1777), ("var/tmp", 0o1777), ("opt", 0o755)):
        d = disk / rel
        d.mkdir(parents=True)
        d.chmod(mode)
        _chown(d)
    skel = Path("/etc/skel")
    if skel.is_dir():
        for item in skel.iterdir():
            if item.is_file():
                shutil.copy2(item, disk / "home/user" / item.name)
                _chown(disk / "home/user" / item.name)
