"""Migration benchmark: a 10,000-key datastore through 50 migrations, beside ``cp -a`` of it.

    python -m bench.migrate [--keys N] [--migrations M] [--repeat R] [--dir PATH] [--sync]

A migration run rewrites the whole datastore, so the baseline is the same run's ``cp -a`` of the
datastore directory on the same filesystem: the least a copy of that many small files costs.
Printed: the median ``cp -a``, the median time of one migration (as the migrator reports it)
and the whole run, with their ratios to the copy. The migrations are Python ones built on the
helper library (a mix of string, list and metadata replacements, additions and no-ops), run by
the real ``migrator`` command. By default they declare ``MIGRATION``, so the migrator chains
them (the datastore is read and written once); ``--unchained`` writes them as plain
executables, each of which copies the datastore. ``--sync`` keeps the migrator's final syncfs
(off by default, as ``cp -a`` has none).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thar.datastore import LIVE, FilesystemDataStore, Key, Pending, Version, create_new_datastore, meta_key, to_json

HELPERS = [
    'ReplaceStringMigration("settings.motd", "v{i}", "v{j}")',
    'AddSettingsMigration(["settings.new.s{i}"])',
    'ReplaceListsMigration([ListReplacement("settings.list", ["a{i}"], ["a{j}"])])',
    'AddPrefixesMigration(["settings.newprefix{i}"])',
    'ReplaceMetadataMigration([MetadataReplacement("settings.motd", "setting-generator", "g{i}", "g{j}")])',
    "NoOpMigration()",
]


def build(base: Path, keys: int, migrations: int, chained: bool) -> Path:
    root = base / "root"
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text(f"VARIANT_ID=thar-dev\nVERSION_ID=2.{migrations}.0\nBUILD_ID=bench\n")
    real = create_new_datastore(base / "datastore", Version(2, 0, 0))
    ds = FilesystemDataStore(real, durable=False)
    pairs = {Key(f"settings.group{i % 100}.item{i // 100}.value"): to_json(f"value {i}") for i in range(keys - 2)}
    pairs[Key("settings.motd")] = to_json("v0")
    pairs[Key("settings.list")] = to_json(["a0"])
    ds.set_keys(pairs, LIVE)
    ds.set_keys({Key("settings.motd"): to_json("v0")}, Pending("default"))
    ds.set_metadata(meta_key("setting-generator"), Key("settings.motd"), to_json("g0"))
    ds.close()
    mig = base / "migrations"
    mig.mkdir()
    for n in range(1, migrations + 1):
        expr = HELPERS[n % len(HELPERS)].format(i=n - 1, j=n)
        path = mig / f"migrate_v2.{n}.0_bench"
        head = f"#!{sys.executable}\nimport sys\nfrom thar.migrations.migration_helpers import *\n\n"
        if chained:
            path.write_text(
                f"{head}MIGRATION = {expr}\n\nif __name__ == '__main__':\n    sys.exit(migrate(MIGRATION))\n"
            )
        else:
            path.write_text(f"{head}sys.exit(migrate({expr}))\n")
        path.chmod(0o755)
    return root


def cp_a(src: Path, dst: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(dst)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--migrations", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="migrator runs (forward, then backward, ...)")
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: a temporary directory)")
    parser.add_argument("--sync", action="store_true", help="keep the migrator's syncfs before the switch")
    parser.add_argument(
        "--unchained", action="store_true", help="write migrations that cannot be chained: each copies the datastore"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="thar-bench-migrate-", dir=args.dir))
    try:
        root = build(work, args.keys, args.migrations, not args.unchained)
        env = {**os.environ, "THAR_ROOT": str(root)}
        copies: list[float] = []
        per_migration: list[float] = []
        runs: list[float] = []
        targets = [f"2.{args.migrations}.0", "2.0.0"]
        for r in range(args.repeat):
            current = (work / "datastore/current").resolve()
            copies.append(cp_a(current, work / "copy"))
            argv = [sys.executable, "-m", "thar.migrations", "--datastore-path", str(work / "datastore/current")]
            argv += ["--migration-directory", str(work / "migrations"), "--migrate-to-version", targets[r % 2]]
            if not args.sync:
                argv.append("--no-sync")
            start = time.perf_counter()
            result = subprocess.run(argv, env=env, capture_output=True, text=True)
            runs.append(time.perf_counter() - start)
            if result.returncode != 0:
                raise SystemExit(f"migrator failed:\n{result.stderr[-2000:]}")
            per_migration += [float(t) for t in re.findall(r"took ([0-9.]+) s", result.stdout)]
            copies.append(cp_a((work / "datastore/current").resolve(), work / "copy"))
        copy = statistics.median(copies)
        one = statistics.median(per_migration)
        run = statistics.median(runs)
        files = sum(len(f) for _, _, f in os.walk(work / "datastore/current/"))
        mode = "one by one" if args.unchained else "chained"
        print(
            f"migration benchmark: {args.keys} keys ({files} files), {args.migrations} migrations {mode}, "
            f"{len(runs)} run(s)"
        )
        print(f"{'':<44} {'thar':>10} {'cp -a':>10} {'ratio':>7}")
        print(f"{'one migration (median) vs one copy':<44} {one:>9.3f}s {copy:>9.3f}s {one / copy:>6.2f}x")
        print(f"{'whole run vs one copy':<44} {run:>9.3f}s {copy:>9.3f}s {run / copy:>6.2f}x")
        print(f"{'whole run vs a copy per migration':<44} {run:>9.3f}s {copy * args.migrations:>9.3f}s "
              f"{run / (copy * args.migrations):>6.2f}x")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
