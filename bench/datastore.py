"""Datastore benchmark: commit latency and reading all live settings, each beside a baseline.

    python -m bench.datastore [--repeat N] [--dir PATH]     (from the repository root)

Baselines run in the same process, on the same filesystem, interleaved with the measured
operation (so drift in the machine affects both alike):
- a commit of n keys is compared with one temporary-file write + fsync + rename (the least a
  durable write can cost); with the floor of a file-per-key layout (read the n pending files,
  rewrite the n live files in place, one fsync); and with a write + fsync + rename per key
  (what a durable commit without a journal costs);
- reading all n live settings is compared with walking and reading n small files.
Figures are medians; a ratio is thar / baseline.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from thar.datastore import LIVE, FilesystemDataStore, Key, Pending, Version, create_new_datastore, to_json

Row = tuple[str, float, float]


def interleaved(
    measured: Callable[[], object],
    baselines: list[Callable[[], object]],
    repeat: int,
    setup: Callable[[], object] | None = None,
) -> tuple[float, list[float]]:
    """Median seconds of ``measured`` and of each baseline, run in turn ``repeat`` times."""
    ours: list[float] = []
    theirs: list[list[float]] = [[] for _ in baselines]
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        measured()
        ours.append(time.perf_counter() - start)
        for fn, times in zip(baselines, theirs, strict=True):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(ours), [statistics.median(t) for t in theirs]


def fsync_write(directory: Path, name: str, data: bytes) -> None:
    """Write ``name`` durably and atomically: a temporary file, fsync, rename."""
    temp = directory / f".{name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp, directory / name)


def fsync_write_each(directory: Path, n: int) -> None:
    for i in range(n):
        fsync_write(directory, f"k{i}", b'"v"')


def file_floor(directory: Path, n: int) -> None:
    """The least a commit of n keys in a file-per-key layout must do: read each pending value,
    write each live value (in place), and make it durable once."""
    sub = directory / f"floor{n}"
    if not sub.is_dir():
        sub.mkdir()
        for i in range(n):
            (sub / f"p{i}").write_bytes(b'"pending"')
            (sub / f"l{i}").write_bytes(b'"live"')
    values = []
    for i in range(n):
        fd = os.open(sub / f"p{i}", os.O_RDONLY)
        values.append(os.read(fd, 65536))
        os.close(fd)
    for i, value in enumerate(values):
        fd = os.open(sub / f"l{i}", os.O_WRONLY)
        os.write(fd, value)
        os.ftruncate(fd, len(value))
        os.close(fd)
    fd = os.open(sub / f"l{n - 1}", os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def read_files(top: str) -> dict[str, bytes]:
    """Walk ``top`` and read every file: the floor of reading a file-per-key store."""
    out = {}
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    fd = os.open(entry.path, os.O_RDONLY)
                    out[entry.path] = os.read(fd, 65536)
                    os.close(fd)
    return out


def bench_commits(root: Path, repeat: int) -> list[Row]:
    create_new_datastore(root / "ds", Version(1, 0, 0))
    ds = FilesystemDataStore(root / "ds" / "current")
    plain = root / "plain"
    plain.mkdir()
    rows = []
    for n in (1, 100):
        keys = [Key(f"settings.bench.group{i % 10}.key{i}") for i in range(n)]
        counter = itertools.count()

        def stage(keys: list[Key] = keys, counter: itertools.count[int] = counter) -> None:
            value = to_json(f"v{next(counter)}")
            ds.set_keys(dict.fromkeys(keys, value), Pending("bench"))

        stage()
        ds.commit_transaction("bench")  # the keys exist in live from now on: measure updates
        ours, (one, floor, each) = interleaved(
            functools.partial(ds.commit_transaction, "bench"),
            [
                functools.partial(fsync_write, plain, "one", b'"value"'),
                functools.partial(file_floor, plain, n),
                functools.partial(fsync_write_each, plain, n),
            ],
            repeat,
            setup=stage,
        )
        s = "s" if n > 1 else " "
        rows.append((f"commit {n:>3} key{s} vs one write+fsync+rename", ours, one))
        rows.append((f"commit {n:>3} key{s} vs floor: read {n}+write {n} files, 1 fsync", ours, floor))
        rows.append((f"commit {n:>3} key{s} vs write+fsync+rename per key", ours, each))
    ds.close()
    return rows


def bench_reads(root: Path, repeat: int) -> list[Row]:
    rows = []
    for n in (1_000, 10_000):
        base = root / f"read{n}"
        base.mkdir()
        ds = FilesystemDataStore(base, durable=False)
        ds.set_keys({Key(f"settings.group{i % 50}.key{i}"): to_json(f"value {i}") for i in range(n)}, LIVE)
        assert len(read_files(str(base / "live"))) == n
        assert len(ds.get_prefix("settings.", LIVE)) == n
        ours, (files,) = interleaved(
            functools.partial(ds.get_prefix, "settings.", LIVE),
            [functools.partial(read_files, str(base / "live"))],
            repeat,
        )
        rows.append((f"read all live settings, {n:>6} keys vs read {n} files", ours, files))
        ds.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=40, help="runs per figure (the median is reported)")
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="thar-bench-") as tmp:
        rows = bench_commits(Path(tmp), args.repeat) + bench_reads(Path(tmp), max(5, args.repeat // 4))
    print(f"{'datastore benchmark':<58} {'thar':>10} {'baseline':>10} {'ratio':>7}")
    for label, ours, base in rows:
        print(f"{label:<58} {ours * 1e3:>8.3f}ms {base * 1e3:>8.3f}ms {ours / base:>6.2f}x")


if __name__ == "__main__":
    main()
