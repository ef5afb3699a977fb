"""Benchmark of the local server's disk images and sandbox; prints a table, asserts nothing.

    python tests/bench/bench_localapi.py [--runs N] [--quick] [--dir FOLDER]

Cases: (a) a disk holding one 1 GiB file of random data, (b) 20,000 small files (~200 MiB).
For each: first snapshot (time, bytes stored), restore into a new devbox, second snapshot after
one file changed (with the per-devbox hash cache, and without it), next to `tar` of the same
tree. The first snapshot is durable when it returns, so it is compared with
`tar -c DIR | zstd -1 -o FILE && sync`, and the restore with that file's extraction
(`zstd -d -c FILE | tar -x`), both measured in the same run and printed as ratios (target: ≤ 1);
so is a restore made right after a restored disk was deleted (on ext4 without a journal, file
creation where many inodes were just freed is slow; the store spreads new disks away from them).
Then the latency of a sandboxed `true` (bubblewrap vs plain subprocess).
The measuring functions (measure_disk_case, measure_sandbox_true, print_table) are meant to be
reused by other benchmark scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reconcile.localapi.disk import DiskStore
from reconcile.localapi.sandbox import Sandbox

MiB = 1 << 20
T = TypeVar("T")


@dataclass
class Row:
    """One measured operation: seconds per run, plus an optional note (e.g. bytes stored)."""

    case: str
    operation: str
    seconds: list[float] = field(default_factory=list)
    note: str = ""

    def cells(self) -> list[str]:
        if not self.seconds:
            return [self.case, self.operation, "-", "-", "-", str(len(self.seconds)), self.note]
        lo, mid, hi = min(self.seconds), statistics.median(self.seconds), max(self.seconds)
        return [
            self.case,
            self.operation,
            *(_fmt(v) for v in (lo, mid, hi)),
            str(len(self.seconds)),
            self.note,
        ]


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def print_table(rows: Sequence[Row]) -> None:
    header = ["case", "operation", "min", "median", "max", "runs", "note"]
    table = [header, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


# -- trees --------------------------------------------------------------------------------------


def make_big_file(home: Path, size: int = 1024 * MiB) -> Callable[[], None]:
    """Write one file of random data; returns a function that changes one byte in its middle."""
    path = home / "big.bin"
    with open(path, "wb") as f:
        for _ in range(size // (4 * MiB)):
            f.write(os.urandom(4 * MiB))

    def change() -> None:
        with open(path, "r+b") as f:
            f.seek(size // 2)
            f.write(b"\x01")

    return change


def make_small_files(home: Path, files: int = 20_000, total: int = 200 * MiB) -> Callable[[], None]:
    """Write `files` files (random sizes around total/files) in 200 folders; returns a changer."""
    average = total // files
    pool = os.urandom(4 * MiB)
    for i in range(files):
        folder = home / f"pkg{i % 200:03d}"
        if i < 200:
            folder.mkdir()
        size = (average // 2) + (i * 7919) % average
        start = (i * 104729) % (len(pool) - size)
        (folder / f"mod{i:05d}.py").write_bytes(i.to_bytes(8, "big") + pool[start : start + size])

    def change() -> None:
        (home / "pkg007/mod00007.py").write_bytes(b"# edited\n" + os.urandom(1000))

    return change


def tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


# -- disk cases ---------------------------------------------------------------------------------


OPS = [
    "first snapshot",
    "restore (new devbox)",
    "second snapshot, 1 file changed",
    "  same, no hash cache",
    "tar -c | cat >/dev/null",
    "tar -c to a file",
    "tar -x (restore)",
    "tar -c | zstd -1 -o FILE && sync",
    "zstd -d -c FILE | tar -x",
    "restore right after a disk was deleted",
]
# (operation, reference) pairs printed as per-run ratios
RATIOS = [
    (0, 7, "first snapshot / tar|zstd&&sync"),
    (1, 8, "restore / zstd -d|tar -x"),
    (9, 8, "restore after a delete / zstd -d|tar -x"),
]


def measure_disk_case(
    name: str, make: Callable[[Path], Callable[[], None]], runs: int, base: Path
) -> list[Row]:
    """Snapshot/restore/second-snapshot timings of one tree, and tar of the same tree."""
    rows = [Row(name, op) for op in OPS]
    stored: list[list[int]] = [[] for _ in OPS]
    logical = 0
    for run in range(runs):
        root = base / f"case{len(os.listdir(base))}-{run}"
        logical = _one_run(root, make, rows, stored)
        shutil.rmtree(root)
    rows[0].note = f"stored {_mib(stored[0])} of {logical / MiB:.0f} MiB"
    rows[2].note = f"stored {_mib(stored[2])}"
    rows[3].note = f"stored {_mib(stored[3])} (all re-hashed)"
    return rows


def _one_run(
    root: Path, make: Callable[[Path], Callable[[], None]], rows: list[Row], stored: list[list[int]]
) -> int:
    store = DiskStore(root / "store")
    disk = store.create_disk("dbx_src")
    change = make(disk / "home/user")
    logical = tree_bytes(disk)
    os.sync()

    def snapshot(i: int, image: str) -> None:
        t, stats = _timed(lambda: store.capture("dbx_src", image))
        rows[i].seconds.append(t)
        stored[i].append(stats.stored_bytes)

    snapshot(0, "snp_1")
    rows[1].seconds.append(_timed(lambda: store.create_disk("dbx_copy", "snp_1"))[0])
    store.delete_disk("dbx_copy")  # a devbox replaced: its files are freed just before the next
    store.flush_trash()
    rows[9].seconds.append(_timed(lambda: store.create_disk("dbx_copy", "snp_1"))[0])
    change()
    snapshot(2, "snp_2")
    store.forget_hashes("dbx_src")
    snapshot(3, "snp_3")
    _tar_rows(rows, disk, root)
    store.close()
    return logical


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _shell(command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True)
    return time.perf_counter() - start


def _tar_rows(rows: list[Row], disk: Path, root: Path) -> None:
    src, tar, out = shlex.quote(str(disk)), shlex.quote(str(root / "disk.tar")), root / "untar"
    rows[4].seconds.append(_shell(f"tar -cf - -C {src} . | cat > /dev/null"))
    rows[5].seconds.append(_shell(f"tar -cf {tar} -C {src} ."))
    out.mkdir()
    rows[6].seconds.append(_shell(f"tar -xf {tar} -C {shlex.quote(str(out))}"))
    zst, out2 = shlex.quote(str(root / "disk.tar.zst")), root / "unzst"
    os.sync()
    rows[7].seconds.append(_shell(f"tar -cf - -C {src} . | zstd -q -1 -o {zst} && sync"))
    out2.mkdir()
    rows[8].seconds.append(_shell(f"zstd -q -d -c {zst} | tar -xf - -C {shlex.quote(str(out2))}"))


def ratio_lines(rows: Sequence[Row]) -> list[str]:
    """Per-run ratios of an operation to its reference from the same run (min / median / max)."""
    lines = []
    for op, ref, label in RATIOS:
        pairs = [a / b for a, b in zip(rows[op].seconds, rows[ref].seconds, strict=False) if b]
        if pairs:
            lo, mid, hi = min(pairs), statistics.median(pairs), max(pairs)
            lines.append(f"{rows[op].case}: {label} = {mid:.2f}x (min {lo:.2f}, max {hi:.2f})")
    return lines


def _mib(values: list[int]) -> str:
    return "/".join(f"{v / MiB:.1f}" for v in sorted(set(values))) + " MiB"


# -- sandbox ------------------------------------------------------------------------------------


def measure_sandbox_true(mode: str, runs: int, base: Path) -> Row:
    """Latency of spawning `true` in a devbox and waiting for it, in the given sandbox mode."""
    store = DiskStore(base / f"sandbox-{mode}")
    store.create_disk("dbx_lat")
    sandbox = Sandbox(store, force_mode=mode)

    async def once() -> float:
        start = time.perf_counter()
        proc = await sandbox.spawn("dbx_lat", "true", {})
        await proc.communicate()
        return time.perf_counter() - start

    async def all_runs() -> list[float]:
        await once()
        return [await once() for _ in range(runs)]

    row = Row("sandbox", f"`true` via {mode} (login bash)", asyncio.run(all_runs()))
    store.close()
    return row


def measure_bare_true(runs: int) -> Row:
    seconds = []
    for _ in range(runs + 1):
        seconds.append(_shell("true"))
    return Row("sandbox", "bare `sh -c true` (reference)", seconds[1:])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per disk case (default 3)")
    parser.add_argument("--quick", action="store_true", help="small trees (smoke test)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the trees")
    parser.add_argument("--cases", default="ab", help="disk cases to run: a, b or ab (default)")
    parser.add_argument("--no-sandbox", action="store_true", help="skip the sandbox latencies")
    args = parser.parse_args(argv)
    big, files, total = (
        (64 * MiB, 2000, 20 * MiB) if args.quick else (1024 * MiB, 20_000, 200 * MiB)
    )
    base = Path(tempfile.mkdtemp(prefix="bench-localapi-", dir=args.dir))
    try:
        rows: list[Row] = []
        ratios: list[str] = []
        cases = {
            "a": (f"(a) 1 file {big // MiB} MiB", lambda h: make_big_file(h, big)),
            "b": (f"(b) {files} small files", lambda h: make_small_files(h, files, total)),
        }
        for key in args.cases:
            name, make = cases[key]
            case_rows = measure_disk_case(name, make, args.runs, base)
            rows += case_rows
            ratios += ratio_lines(case_rows)
        if not args.no_sandbox:
            modes = ["bubblewrap", "subprocess"] if shutil.which("bwrap") else ["subprocess"]
            rows += [measure_sandbox_true(mode, 50, base) for mode in modes]
            rows.append(measure_bare_true(50))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"cores={os.cpu_count()} python={sys.version.split()[0]} runs={args.runs} load={load}")
    print_table(rows)
    for line in ratios:
        print(line)


if __name__ == "__main__":
    main()
