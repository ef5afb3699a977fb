"""DiskStore file access: path mapping, refused escapes (`..`, symlinks out), safe unpacking."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconcile.localapi.disk import DEVBOX_UID, DiskError, DiskStore

BOX = "dbx_paths"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DiskStore]:
    ds = DiskStore(tmp_path / "store")
    ds.create_disk(BOX)
    yield ds
    ds.close()


@pytest.fixture
def disk(store: DiskStore) -> Path:
    return store.disk_path(BOX)


@pytest.mark.parametrize(
    ("devbox_path", "on_disk"),
    [
        pytest.param("notes.txt", "home/user/notes.txt", id="relative-is-under-home"),
        pytest.param("a/./b//c", "home/user/a/b/c", id="normalised"),
        pytest.param("/home/user/x", "home/user/x", id="absolute-home"),
        pytest.param("/tmp/x", "tmp/x", id="tmp"),
        pytest.param("/var/tmp/x", "var/tmp/x", id="var-tmp"),
        pytest.param("/opt/tool/bin", "opt/tool/bin", id="opt"),
        pytest.param("/home/user", "home/user", id="home-itself"),
    ],
)
def test_host_path_maps_devbox_paths_onto_the_disk(
    store: DiskStore, disk: Path, devbox_path: str, on_disk: str
) -> None:
    assert store.host_path(BOX, devbox_path) == disk / on_disk


@pytest.mark.parametrize(
    "devbox_path",
    [
        pytest.param("../x", id="dotdot-relative"),
        pytest.param("/home/user/../../etc/passwd", id="dotdot-absolute"),
        pytest.param("a/../../b", id="dotdot-inside"),
        pytest.param("/etc/passwd", id="system-file"),
        pytest.param("/home/other/x", id="another-home"),
        pytest.param("/root/.ssh/id_rsa", id="root-home"),
        pytest.param("/", id="root"),
        pytest.param("/home", id="home-parent"),
        pytest.param("x\0y", id="nul"),
    ],
)
def test_paths_outside_the_disk_are_refused(store: DiskStore, devbox_path: str) -> None:
    with pytest.raises(DiskError):
        store.host_path(BOX, devbox_path)
    with pytest.raises(DiskError):
        store.write_file(BOX, devbox_path, b"x")
    with pytest.raises(DiskError):
        store.read_file(BOX, devbox_path)


@pytest.mark.parametrize(
    ("link", "target"),
    [
        pytest.param("home/user/etc", "/etc", id="absolute-system"),
        pytest.param("home/user/up", "../../../../../..", id="relative-up-and-out"),
        pytest.param("home/user/root", "/root", id="root-home"),
        pytest.param("tmp/hop", "/home/user/etc", id="chain-to-a-bad-link"),
    ],
)
def test_symlinks_leading_out_are_refused(
    store: DiskStore, disk: Path, tmp_path: Path, link: str, target: str
) -> None:
    os.symlink("/etc", disk / "home/user/etc")
    if link != "home/user/etc":
        os.symlink(target, disk / link)
    devbox = "/" + link
    with pytest.raises(DiskError, match="symlink"):
        store.host_path(BOX, devbox + "/passwd")
    with pytest.raises(DiskError, match="symlink"):
        store.write_file(BOX, devbox + "/planted", b"x")
    with pytest.raises(DiskError, match="symlink"):
        store.read_file(BOX, devbox + "/passwd")
    assert not Path("/etc/planted").exists()


def test_symlinks_inside_the_disk_are_followed_as_the_devbox_sees_them(
    store: DiskStore, disk: Path
) -> None:
    os.symlink("/tmp", disk / "home/user/scratch")  # absolute = a devbox path, not the host's
    os.symlink("../user/real.txt", disk / "home/user/alias.txt")
    store.write_file(BOX, "scratch/deep/file.txt", b"via link")
    store.write_file(BOX, "real.txt", b"real")
    assert (disk / "tmp/deep/file.txt").read_bytes() == b"via link"
    assert store.read_file(BOX, "alias.txt") == b"real"
    assert store.host_path(BOX, "scratch/deep") == disk / "tmp/deep"
    assert store.host_path(BOX, "alias.txt") == disk / "home/user/real.txt"


def test_symlink_loops_are_errors(store: DiskStore, disk: Path) -> None:
    os.symlink("b", disk / "home/user/a")
    os.symlink("a", disk / "home/user/b")
    with pytest.raises(DiskError, match="levels of symlinks"):
        store.read_file(BOX, "a")


def test_write_file_creates_parents_owned_by_the_devbox_user(store: DiskStore, disk: Path) -> None:
    store.write_file(BOX, "/opt/a/b/c.txt", b"content")
    store.write_file(BOX, "/opt/a/b/c.txt", b"new")
    assert store.read_file(BOX, "/opt/a/b/c.txt") == b"new"
    if os.geteuid() != 0:
        pytest.skip("ownership is only handed over when the server runs as root")
    for path in ("opt/a", "opt/a/b", "opt/a/b/c.txt"):
        assert (disk / path).stat().st_uid == DEVBOX_UID, path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: None, "no such file", id="missing"),
        pytest.param(lambda p: p.mkdir(), "is a directory", id="directory"),
        pytest.param(lambda p: os.mkfifo(p), "not a regular file", id="fifo-does-not-hang"),
    ],
)
def test_read_file_errors(store: DiskStore, disk: Path, make: object, message: str) -> None:
    make(disk / "home/user/thing")  # type: ignore[operator]
    with pytest.raises(DiskError, match=message):
        store.read_file(BOX, "thing")


def test_operations_on_a_devbox_without_disk_fail(store: DiskStore) -> None:
    with pytest.raises(DiskError, match="no disk"):
        store.write_file("dbx_none", "x", b"")
    with pytest.raises(DiskError, match="no disk"):
        store.host_path("dbx_none", "x")


def tar_of(members: list[tuple[tarfile.TarInfo, bytes]], compress: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if compress else "w") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def member(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "tgz"])
def test_unpack_archive_writes_members_into_the_folder(
    store: DiskStore, disk: Path, compress: bool
) -> None:
    data = tar_of(
        [
            (member("pkg", tarfile.DIRTYPE, mode=0o755), b""),
            (member("pkg/tool.sh", mode=0o4755), b"#!/bin/sh\n"),
            (member("./pkg/readme"), b"read me"),
            (member("pkg/alias", tarfile.SYMTYPE, "tool.sh"), b""),
            (member("pkg/hard", tarfile.LNKTYPE, "pkg/readme"), b""),
        ],
        compress,
    )
    store.unpack_archive(BOX, "/home/user/tools", data, "tgz" if compress else "tar")
    base = disk / "home/user/tools/pkg"
    assert (base / "tool.sh").read_bytes() == b"#!/bin/sh\n"
    assert (base / "tool.sh").stat().st_mode & 0o7777 == 0o755, "set-id bits are dropped"
    assert (base / "readme").read_bytes() == b"read me"
    assert os.readlink(base / "alias") == "tool.sh"
    assert (base / "hard").read_bytes() == b"read me"
    assert not (base / "hard").samefile(base / "readme"), "hard links become copies"
    if os.geteuid() == 0:
        owners = {p.lstat().st_uid for p in [base.parent, *base.parent.rglob("*")]}
        assert owners == {DEVBOX_UID}


def test_unpack_gzip_of_a_single_file_writes_that_file(store: DiskStore) -> None:
    store.unpack_archive(BOX, "/home/user/data.txt", gzip.compress(b"plain"), "gzip")
    assert store.read_file(BOX, "data.txt") == b"plain"


@pytest.mark.parametrize(
    "members",
    [
        pytest.param([(member("../escape"), b"x")], id="dotdot"),
        pytest.param([(member("/abs/escape"), b"x")], id="absolute-name"),
        pytest.param([(member("a/../../escape"), b"x")], id="dotdot-inside"),
        pytest.param([(member("l", tarfile.SYMTYPE, "/etc"), b"")], id="absolute-link"),
        pytest.param([(member("l", tarfile.SYMTYPE, "../../.."), b"")], id="link-out"),
        pytest.param([(member("h", tarfile.LNKTYPE, "/etc/passwd"), b"")], id="hardlink-out"),
        pytest.param([(member("dev", tarfile.CHRTYPE), b"")], id="device"),
        pytest.param([(member("fifo", tarfile.FIFOTYPE), b"")], id="fifo"),
    ],
)
def test_unpack_refuses_members_escaping_the_folder(
    store: DiskStore, disk: Path, members: list[tuple[tarfile.TarInfo, bytes]]
) -> None:
    with pytest.raises(DiskError):
        store.unpack_archive(BOX, "/home/user/dst", tar_of(members), "tar")
    assert not (disk / "home/escape").exists()
    assert not (disk / "home/user/escape").exists()
    assert not (disk / "home/user/dst/dev").exists()


def test_unpack_into_a_folder_symlinked_out_is_refused(store: DiskStore, disk: Path) -> None:
    os.symlink("../../../../../../../etc", disk / "home/user/mnt")
    with pytest.raises(DiskError, match="symlink"):
        store.unpack_archive(BOX, "mnt", tar_of([(member("planted"), b"x")]), "tar")
    assert not Path("/etc/planted").exists()


def test_unpack_rejects_data_that_is_no_archive(store: DiskStore) -> None:
    with pytest.raises(DiskError, match="not a tar"):
        store.unpack_archive(BOX, "x", b"just some text", "tar")
