"""Datastore benchmark: commit latency and reading all live settings, each beside a baseline.

    python -m bench.datastore [--repeat N] [--dir PATH]     (from the repository root)

Baselines are measured in the same run on the same filesystem:
- a commit is compared with one temporary-file write + fsync + rename (the least a durable
  write can cost); with the floor of a file-per-key layout (read the n pending files, write
  the n live files in place, one fsync); and with a write + fsync + rename per key (what a
  durable commit without a journal costs);
- reading N live keys is compared with reading N small files (walk + open + read).
Figures are medians; ratios are thar / baseline.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from datastore import LIVE, FilesystemDataStore, Key, Pending, Version, create_new_datastore, to_json


def median_seconds(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fsync_write(directory: Path, name: str, data: bytes) -> None:
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
        with open(sub / f"p{i}", "rb") as f:
            values.append(f.read())
    for i, value in enumerate(values):
        fd = os.open(sub / f"l{i}", os.O_WRONLY)
        os.write(fd, value)
        os.ftruncate(fd, len(value))
        os.close(fd)
    fd = os.open(sub / f"l{n - 1}", os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def bench_commits(root: Path, repeat: int) -> list[tuple[str, float, float]]:
    create_new_datastore(root / "ds", Version(1, 0, 0))
    ds = FilesystemDataStore(root / "ds" / "current")
    plain = root / "plain"
    plain.mkdir()
    rows = []
    baseline = median_seconds(lambda: fsync_write(plain, "one", b'"value"'), repeat)
    for n in (1, 100):
        keys = [Key(f"settings.bench.group{i % 10}.key{i}") for i in range(n)]
        counter = iter(range(10**9))

        def stage(keys: list[Key] = keys, counter: object = counter) -> None:
            value = to_json(f"v{next(counter)}")  # type: ignore[call-overload]
            ds.set_keys({key: value for key in keys}, Pending("bench"))

        stage()
        ds.commit_transaction("bench")  # the keys exist in live from now on: measure updates
        latency = median_seconds(lambda: ds.commit_transaction("bench"), repeat, setup=stage)
        s = "s" if n > 1 else " "
        rows.append((f"commit {n:>3} key{s} vs one write+fsync+rename", latency, baseline))
        floor = median_seconds(functools.partial(file_floor, plain, n), repeat)
        rows.append((f"commit {n:>3} key{s} vs floor: read {n}+write {n} files, 1 fsync", latency, floor))
        per_key = median_seconds(functools.partial(fsync_write_each, plain, n), repeat)
        rows.append((f"commit {n:>3} key{s} vs write+fsync+rename per key", latency, per_key))
    ds.close()
    return rows


def bench_reads(root: Path, repeat: int) -> list[tuple[str, float, float]]:
    rows = []
    for n in (1_000, 10_000):
        base = root / f"read{n}"
        base.mkdir()
        ds = FilesystemDataStore(base, durable=False)
        ds.set_keys({Key(f"settings.group{i % 50}.key{i}"): to_json(f"value {i}") for i in range(n)}, LIVE)

        def read_files(top: Path = base / "live") -> dict[str, bytes]:
            out = {}
            for dirpath, _, filenames in os.walk(top):
                for name in filenames:
                    with open(os.path.join(dirpath, name), "rb") as f:
                        out[name] = f.read()
            return out

        assert len(read_files()) == n
        assert len(ds.get_prefix("settings.", LIVE)) == n
        baseline = median_seconds(read_files, repeat)
        ours = median_seconds(functools.partial(ds.get_prefix, "settings.", LIVE), repeat)
        rows.append((f"read all live settings, {n:>6} keys (read {n} files = 1.0)", ours, baseline))
        ds.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30, help="runs per figure (median is reported)")
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="thar-bench-") as tmp:
        rows = bench_commits(Path(tmp), args.repeat) + bench_reads(Path(tmp), max(5, args.repeat // 3))
    print(f"{'datastore benchmark':<58} {'thar':>10} {'baseline':>10} {'ratio':>7}")
    for label, ours, base in rows:
        print(f"{label:<58} {ours * 1e3:>8.3f}ms {base * 1e3:>8.3f}ms {ours / base:>6.2f}x")


if __name__ == "__main__":
    main()
