"""Image blobs on disk: zstd where it pays (raw otherwise), stores of raw blobs still read, and
a snapshot's staged blobs never visible before it commits. Real files in tmp_path."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from test_disk import populate, tree

from reconcile.localapi.disk import DiskError, DiskStore, packs
from reconcile.localapi.disk.blobs import BlobStore
from reconcile.localapi.disk.capture import CHUNK

TEXT = b"".join(b"line %d of a log that compresses well\n" % i for i in range(200_000))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DiskStore]:
    ds = DiskStore(tmp_path / "store")
    yield ds
    ds.close()


def blob_files(store: DiskStore) -> list[Path]:
    return [p for p in (store.root / "blobs").rglob("*") if p.is_file()]


def chunk_files(store: DiskStore) -> list[Path]:
    """Blobs of large files (sha256 names; packs of small files are under blobs/pk/)."""
    return [p for p in blob_files(store) if p.parent.name != "pk"]


def fill_compressible(home: Path) -> None:
    (home / "log.txt").write_bytes(TEXT[: 2 * CHUNK + 999])
    (home / "src").mkdir()
    for i in range(300):  # more files than one restore batch: workers share the pack
        (home / "src" / f"m{i}.py").write_bytes(b"def f%d():\n    return %d\n" % (i, i) * 40)


def test_compressible_content_is_stored_compressed_and_restored(store: DiskStore) -> None:
    home = store.create_disk("dbx_z") / "home/user"
    fill_compressible(home)
    stats = store.capture("dbx_z", "snp_z")
    assert stats.stored_bytes * 4 < stats.logical_bytes
    assert stats.stored_bytes == store.stored_bytes()
    assert all(p.suffix == ".z" for p in blob_files(store))
    assert tree(store.create_disk("dbx_back", "snp_z")) == tree(store.disk_path("dbx_z"))


def test_incompressible_content_is_stored_raw(store: DiskStore) -> None:
    home = store.create_disk("dbx_r") / "home/user"
    skel = store.capture("dbx_r", "snp_skel").stored_bytes  # the home's files from /etc/skel
    (home / "noise.bin").write_bytes(random.Random(3).randbytes(CHUNK + 77))
    stats = store.capture("dbx_r", "snp_r")
    assert (stats.stored_bytes, store.stored_bytes()) == (CHUNK + 77, skel + CHUNK + 77)
    assert [p.suffix for p in chunk_files(store)] == ["", ""]


def test_compression_is_chosen_per_chunk(store: DiskStore) -> None:
    home = store.create_disk("dbx_m") / "home/user"
    (home / "mixed.bin").write_bytes(TEXT[:CHUNK] + random.Random(4).randbytes(CHUNK))
    store.capture("dbx_m", "snp_m")
    assert sorted(p.suffix for p in chunk_files(store)) == ["", ".z"]
    assert tree(store.create_disk("dbx_m2", "snp_m")) == tree(store.disk_path("dbx_m"))


def test_a_store_of_raw_blobs_is_read_and_deduplicated_against(tmp_path: Path) -> None:
    """Stores written before compression hold raw blobs only: restore and dedup use them."""
    first = DiskStore(tmp_path / "store")
    home = first.create_disk("dbx_old") / "home/user"
    fill_compressible(home)
    populate(home)
    first.save_image("dbx_old", "snp_old")
    first.close()
    for packed in blob_files(first):
        if packed.suffix == ".z":
            raw = zstandard.ZstdDecompressor().decompress(packed.read_bytes())
            packed.with_suffix("").write_bytes(raw)
            packed.unlink()
    again = DiskStore(tmp_path / "store")
    assert tree(again.create_disk("dbx_new", "snp_old")) == tree(again.disk_path("dbx_old"))
    assert again.capture("dbx_old", "snp_again").stored_bytes == 0
    again.delete_image("snp_old")
    again.delete_image("snp_again")
    assert again.stored_bytes() == 0
    again.close()


def test_staged_blobs_of_an_unfinished_snapshot_never_count(tmp_path: Path) -> None:
    ds = DiskStore(tmp_path / "store")
    batch = ds._blobs.new_batch()  # what a snapshot killed before its commit leaves
    assert batch.put("ab" + "c" * 62, os.urandom(100)) == 100
    assert batch.has("ab" + "c" * 62)
    ds.close()
    again = DiskStore(tmp_path / "store")
    again.flush_trash()
    assert os.listdir(tmp_path / "store/tmp") == []
    assert not again._blobs.has("ab" + "c" * 62)
    again.close()


def test_a_corrupt_compressed_blob_fails_the_restore_cleanly(store: DiskStore) -> None:
    fill_compressible(store.create_disk("dbx_c") / "home/user")
    store.save_image("dbx_c", "snp_c")
    for packed in blob_files(store):
        packed.write_bytes(b"not zstd at all")
    with pytest.raises(DiskError, match="damaged"):
        store.create_disk("dbx_broken", "snp_c")
    assert not store.disk_path("dbx_broken").exists()


def test_a_snapshot_that_fails_to_commit_leaves_the_hash_cache_as_it_was(
    store: DiskStore,
) -> None:
    """The hash cache lets later snapshots skip unchanged files by naming the blobs their bytes
    went to; a snapshot whose blobs were dropped (its commit failed) must not leave it naming
    them: the next snapshot of the unchanged disk reads every file again and restores whole."""
    home = store.create_disk("dbx_f") / "home/user"
    populate(home)
    (home / "logs").mkdir()
    fill_compressible(home / "logs")
    obstacle = store.root / "blobs/pk"  # where packs of small files go: a file, not a folder
    obstacle.write_bytes(b"")
    with pytest.raises(DiskError, match="cannot snapshot"):
        store.capture("dbx_f", "snp_failed")  # the large files' chunks are published first
    assert not store.image_exists("snp_failed")
    assert [n for n in os.listdir(store.root / "tmp") if n.startswith("batch-")] == []
    obstacle.unlink()
    again = store.capture("dbx_f", "snp_again")
    assert again.reused_files == 0, "the failed snapshot's files were taken from its cache"
    assert again.hashed_bytes == again.logical_bytes
    assert tree(store.create_disk("dbx_f2", "snp_again")) == tree(store.disk_path("dbx_f"))


def test_a_hash_cache_naming_collected_blobs_is_not_trusted(store: DiskStore) -> None:
    """The cache outlives the image it was filled for: once that image is deleted and its blobs
    collected, the next snapshot stores the unchanged files' bytes again."""
    home = store.create_disk("dbx_d") / "home/user"
    populate(home)
    first = store.capture("dbx_d", "snp_gone")
    store.delete_image("snp_gone")
    assert store.stored_bytes() == 0
    again = store.capture("dbx_d", "snp_kept")
    assert again.stored_bytes == first.stored_bytes
    assert tree(store.create_disk("dbx_d2", "snp_kept")) == tree(store.disk_path("dbx_d"))


def test_a_commit_reusing_a_blob_published_but_not_yet_synced_syncs_it(tmp_path: Path) -> None:
    """A commit that fails half-way (or is still running) has renamed some blobs into place
    without the sync that makes the renames durable; a snapshot that reuses one of them and
    stages nothing itself must still sync before its image is written."""
    blobs = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    first, second = "ab" + "1" * 62, "cd" + "2" * 62
    (tmp_path / "blobs/cd").write_bytes(b"")  # a file where the second blob's folder goes
    failing = blobs.new_batch()
    failing.put(first, b"first")
    failing.put(second, b"second")
    with pytest.raises(OSError):
        failing.commit()
    failing.discard()
    assert blobs.read(first) == b"first" and not blobs.has(second)
    assert not blobs.durable()
    reusing = blobs.new_batch()
    assert reusing.put(first, b"first") == 0
    reusing.commit()
    assert blobs.durable()


def test_small_files_spread_over_many_packs_restore_exactly(
    store: DiskStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small files are read straight into the pack being filled, whose buffer is reused once
    the pack is written: with packs of 64 KiB, 400 files fill dozens of packs (some files not
    fitting in what is left of one, copies of a file among them), and every file restores."""
    monkeypatch.setattr(packs, "PACK_LIMIT", 64 << 10)
    home = store.create_disk("dbx_p") / "home/user"
    rng = random.Random(11)
    for i in range(400):
        body = rng.randbytes(rng.choice([0, 1, 900, 20_000, 60_000])) if i % 7 else b"same\n"
        (home / f"f{i:03d}").write_bytes(body)
    store.capture("dbx_p", "snp_p")
    assert len([p for p in blob_files(store) if p.parent.name == "pk"]) > 20
    assert tree(store.create_disk("dbx_p2", "snp_p")) == tree(store.disk_path("dbx_p"))
