"""DiskStore images: round trips, content addressing (bytes stored), GC and crash safety.

Real files in tmp_path; stored-byte assertions are exact because content addressing is
deterministic (a 4 MiB chunk is stored once; small files go to packs, each byte once).
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconcile.localapi.disk import DEVBOX_UID, DiskError, DiskStore
from reconcile.localapi.disk.cache import HashCache, racy_margin
from reconcile.localapi.disk.capture import CHUNK, SMALL_LIMIT
from reconcile.localapi.disk.catalog import Catalog
from reconcile.localapi.disk.manifest import Entry

MiB = 1 << 20


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DiskStore]:
    ds = DiskStore(tmp_path / "store")
    yield ds
    ds.close()


def pattern(size: int, seed: int) -> bytes:
    """Deterministic incompressible bytes (stored raw, so stored sizes are exact)."""
    return random.Random(seed).randbytes(size)


def tree(disk: Path) -> dict[str, tuple[object, ...]]:
    """Everything a restore must reproduce, per disk-relative path."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(disk):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            st = full.lstat()
            rel = str(full.relative_to(disk))
            meta = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = (*meta, os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                found[rel] = (*meta, st.st_mtime_ns, full.read_bytes())
            else:
                found[rel] = (*meta, st.st_mtime_ns)
    return found


def populate(home: Path) -> None:
    (home / "src/pkg").mkdir(parents=True)
    (home / "src/pkg/mod.py").write_text("print('hi')\n")
    (home / "src/pkg/private").write_bytes(b"secret-ish")
    (home / "src/pkg/private").chmod(0o600)
    (home / "run.sh").write_text("#!/bin/sh\necho run\n")
    (home / "run.sh").chmod(0o755)
    (home / "empty").write_bytes(b"")
    (home / "just-small").write_bytes(pattern(SMALL_LIMIT - 1, 1))
    (home / "just-large").write_bytes(pattern(SMALL_LIMIT, 2))
    (home / "big.bin").write_bytes(pattern(2 * CHUNK + 12345, 3))
    with open(home / "sparse.img", "wb") as f:
        f.seek(3 * CHUNK + 7)
        f.write(b"tail")
    (home / "locked").mkdir(mode=0o500)
    os.symlink("src/pkg/mod.py", home / "rel-link")
    os.symlink("/home/user/run.sh", home / "abs-link")
    os.symlink("does/not/exist", home / "dangling")
    os.utime(home / "run.sh", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))


def test_fresh_disk_has_the_writable_roots(store: DiskStore) -> None:
    disk = store.create_disk("dbx_fresh")
    assert disk == store.disk_path("dbx_fresh")
    modes = {r: stat.S_IMODE((disk / r).stat().st_mode) for r in ("home/user", "tmp", "var/tmp")}
    assert modes == {"home/user": 0o755, "tmp": 0o1777, "var/tmp": 0o1777}
    assert (disk / "opt").is_dir()
    if os.geteuid() == 0:
        assert (disk / "home/user").stat().st_uid == DEVBOX_UID


def test_restore_reproduces_files_dirs_symlinks_modes_and_times(store: DiskStore) -> None:
    disk = store.create_disk("dbx_src")
    populate(disk / "home/user")
    size = store.save_image("dbx_src", "snp_round")
    copy = store.create_disk("dbx_copy", "snp_round")
    assert tree(copy) == tree(disk)
    regular = [p for p in disk.rglob("*") if p.is_file() and not p.is_symlink()]
    assert size == sum(p.stat().st_size for p in regular)
    sparse = (copy / "home/user/sparse.img").stat()
    assert sparse.st_blocks * 512 < sparse.st_size // 2, "holes are restored as holes"


def test_round_trip_of_a_restored_disk_is_stable(store: DiskStore) -> None:
    populate(store.create_disk("dbx_a") / "home/user")
    store.save_image("dbx_a", "snp_1")
    store.create_disk("dbx_b", "snp_1")
    store.save_image("dbx_b", "snp_2")
    third = store.create_disk("dbx_c", "snp_2")
    assert tree(third) == tree(store.disk_path("dbx_a"))


@pytest.mark.parametrize(
    ("change", "expected_new_bytes"),
    [
        pytest.param(lambda h: None, 0, id="nothing-changed"),
        pytest.param(lambda h: _poke(h / "big.bin", CHUNK + 5), CHUNK, id="one-byte-in-big-file"),
        pytest.param(lambda h: (h / "src/pkg/mod.py").write_text("x = 1\n"), 6, id="small-edit"),
        pytest.param(lambda h: (h / "new.txt").write_text("hello"), 5, id="new-small-file"),
        pytest.param(lambda h: (h / "dup").write_bytes(pattern(SMALL_LIMIT - 1, 1)), 0, id="dup"),
        pytest.param(lambda h: (h / "big.bin").unlink(), 0, id="file-deleted"),
        pytest.param(lambda h: (h / "run.sh").chmod(0o700), 0, id="mode-only"),
        pytest.param(
            lambda h: (h / "copy.bin").write_bytes((h / "big.bin").read_bytes()), 0, id="big-copy"
        ),
    ],
)
def test_second_snapshot_stores_only_new_content(
    store: DiskStore, change: object, expected_new_bytes: int
) -> None:
    home = store.create_disk("dbx_s") / "home/user"
    populate(home)
    first = store.capture("dbx_s", "snp_first")
    assert first.stored_bytes > 2 * CHUNK
    change(home)  # type: ignore[operator]
    second = store.capture("dbx_s", "snp_second")
    assert second.stored_bytes == expected_new_bytes
    restored = store.create_disk("dbx_check", "snp_second")
    assert tree(restored) == tree(store.disk_path("dbx_s"))


def _poke(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff")


def test_unchanged_disk_stores_nothing_even_after_a_restart(tmp_path: Path) -> None:
    first = DiskStore(tmp_path / "store")
    populate(first.create_disk("dbx_r") / "home/user")
    first.save_image("dbx_r", "snp_1")
    first.close()
    again = DiskStore(tmp_path / "store")  # no hash cache survives: only content addressing
    stats = again.capture("dbx_r", "snp_2")
    assert (stats.stored_bytes, stats.reused_files) == (0, 0)
    assert stats.hashed_bytes == stats.logical_bytes
    again.close()


def test_hash_cache_trusts_only_settled_unchanged_files(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("abc")
    st = (tmp_path / "f").stat()
    entry = Entry("f", "f", 0o644, 0, 0, st.st_mtime_ns, 3, (("x" * 64, 0, 3),))
    margin = racy_margin(st.st_ctime_ns)  # 2 s in the rare case of a ctime on a whole second
    settled = HashCache(written_ns=st.st_ctime_ns + margin + 1)
    settled.record("f", st, entry)
    racy = HashCache(written_ns=st.st_ctime_ns + margin)
    racy.record("f", st, entry)
    assert settled.lookup("f", st) is not None
    assert racy.lookup("f", st) is None, "written in the same tick as the cache: re-read it"
    assert settled.lookup("other", st) is None
    (tmp_path / "f").write_text("abd")
    assert settled.lookup("f", (tmp_path / "f").stat()) is None


def test_deleting_an_image_keeps_blobs_another_image_uses(store: DiskStore) -> None:
    home = store.create_disk("dbx_g") / "home/user"
    populate(home)
    store.save_image("dbx_g", "snp_old")
    _poke(home / "big.bin", 10)
    store.save_image("dbx_g", "snp_new")
    before = store.stored_bytes()
    store.delete_image("snp_old")
    assert before - store.stored_bytes() == CHUNK, "only the chunk snp_new does not share"
    assert store.list_images() == ["snp_new"]
    assert tree(store.create_disk("dbx_g2", "snp_new")) == tree(store.disk_path("dbx_g"))
    store.delete_image("snp_new")
    assert store.stored_bytes() == 0


def test_collection_waits_for_running_work(store: DiskStore, tmp_path: Path) -> None:
    populate(store.create_disk("dbx_w") / "home/user")
    store.save_image("dbx_w", "snp_w")
    catalog: Catalog = store._catalog
    with catalog.work():
        store.delete_image("snp_w")
        assert store.stored_bytes() > 0, "no sweep while a snapshot or restore runs"
    assert store.stored_bytes() == 0


def test_missing_and_duplicate_images_are_errors(store: DiskStore) -> None:
    store.create_disk("dbx_e")
    with pytest.raises(DiskError, match="does not exist"):
        store.create_disk("dbx_x", "snp_missing")
    assert not store.disk_path("dbx_x").exists()
    store.save_image("dbx_e", "snp_e")
    with pytest.raises(DiskError, match="already exists"):
        store.save_image("dbx_e", "snp_e")
    with pytest.raises(DiskError, match="no disk"):
        store.save_image("dbx_nobody", "snp_n")
    store.delete_image("snp_never")  # deleting what is not there is not an error


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x" * 200])
def test_ids_that_are_not_plain_names_are_refused(store: DiskStore, bad: str) -> None:
    with pytest.raises(DiskError, match="invalid"):
        store.disk_path(bad)
    with pytest.raises(DiskError, match="invalid"):
        store.image_exists(bad)


def test_create_disk_replaces_and_delete_disk_removes(store: DiskStore) -> None:
    disk = store.create_disk("dbx_d")
    (disk / "home/user/old").write_text("old")
    store.create_disk("dbx_d")
    assert not (disk / "home/user/old").exists()
    store.delete_disk("dbx_d")
    assert not disk.exists()
    store.flush_trash()
    assert list((store.root / "trash").iterdir()) == []


def test_disks_are_built_in_a_folder_whose_subfolders_ext4_spreads(store: DiskStore) -> None:
    """tmp/ carries the +T (top of hierarchy) flag, so a restore does not create its files in
    the inode groups a just-deleted disk freed (ext4 without a journal scans those per file)."""
    probe = store.root / "probe"
    probe.mkdir()
    if subprocess.run(["chattr", "+T", str(probe)], capture_output=True).returncode != 0:
        pytest.skip("this file system (or a missing chattr) has no +T flag")
    listed = subprocess.run(["lsattr", "-d", str(store.root / "tmp")], capture_output=True)
    assert "T" in listed.stdout.decode().split()[0], listed
    assert store.create_disk("dbx_t").is_dir()


def test_half_written_image_is_never_listed_and_is_cleaned(tmp_path: Path) -> None:
    ds = DiskStore(tmp_path / "store")
    populate(ds.create_disk("dbx_c") / "home/user")
    ds.save_image("dbx_c", "snp_done")
    (tmp_path / "store/images/.snp_half.1234.tmp").write_text('{"format": "rlstate-image/1"')
    assert ds.list_images() == ["snp_done"]
    assert not ds.image_exists("snp_half")
    ds.close()
    DiskStore(tmp_path / "store").close()
    assert sorted(os.listdir(tmp_path / "store/images")) == ["snp_done.json"]


def test_restart_after_a_crash_keeps_images_and_drops_leftovers(tmp_path: Path) -> None:
    ds = DiskStore(tmp_path / "store")
    populate(ds.create_disk("dbx_c") / "home/user")
    ds.save_image("dbx_c", "snp_done")
    kept = ds.stored_bytes()
    ds.close()
    # What a crash in the middle of a snapshot and of a restore leaves behind:
    (tmp_path / "store/tmp/blob-half-written").write_bytes(b"partial")
    orphan = tmp_path / "store/blobs/ab" / ("c" * 62)  # complete, but no manifest got written
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"x" * 100)
    (tmp_path / "store/tmp/disk-dbx_x-partial/home").mkdir(parents=True)
    again = DiskStore(tmp_path / "store")
    again.flush_trash()
    assert os.listdir(tmp_path / "store/tmp") == []
    assert again.collect_garbage().bytes_freed == 100
    assert again.stored_bytes() == kept
    assert tree(again.create_disk("dbx_back", "snp_done")) == tree(ds.disk_path("dbx_c"))
    again.close()


def test_missing_blob_makes_restore_fail_cleanly(store: DiskStore) -> None:
    populate(store.create_disk("dbx_m") / "home/user")
    store.save_image("dbx_m", "snp_m")
    for blob in (store.root / "blobs").rglob("*"):
        if blob.is_file():
            blob.unlink()
    with pytest.raises(DiskError, match="missing data"):
        store.create_disk("dbx_broken", "snp_m")
    assert not store.disk_path("dbx_broken").exists()


def test_an_image_whose_home_is_a_symlink_cannot_be_restored(
    store: DiskStore, tmp_path: Path
) -> None:
    disk = store.create_disk("dbx_bad")
    shutil.rmtree(disk / "home/user")
    os.symlink("/root", disk / "home/user")
    store.save_image("dbx_bad", "snp_bad")
    with pytest.raises(DiskError, match="damaged"):
        store.create_disk("dbx_from_bad", "snp_bad")
    assert not store.disk_path("dbx_from_bad").exists()


def test_file_names_that_are_not_utf8_survive(store: DiskStore) -> None:
    disk = store.create_disk("dbx_names")
    raw = os.fsencode(disk / "home/user") + b"/caf\xe9 \n\x01.txt"
    with open(raw, "wb") as f:
        f.write(b"latin-1 name")
    store.save_image("dbx_names", "snp_names")
    assert tree(store.create_disk("dbx_names2", "snp_names")) == tree(disk)
