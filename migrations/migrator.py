"""The migrator's algorithm: migrate the datastore at a path to a target version.

1. The datastore's directory ``D`` is the parent of the (canonical) datastore path; its
   version is read from the links ``current`` → ``vM`` → ``vM.m`` → name.
2. Equal to the target: nothing to do (old directories beyond the last two are still removed).
3. The datastore is opened once, so a commit a crash interrupted is finished before it is copied.
4. The migrations between the two versions run in order, each reading the previous result
   (first the datastore itself) and writing a new ``D/v<target>_<random>``; each previous
   intermediate is removed. Consecutive chainable Python migrations (a module-level
   ``MIGRATION``) run as one chain: read once, transformed by each in turn, written once.
   A failure stops everything: the links are not touched, and the error names the migration.
   The migrations come from updog's verified cache when a TUF mirror is given (``tuf_cache``),
   else from the directory (``selection``).
5. ``services``, ``configuration-files`` and setting metadata are removed from the result's live
   state, for storewolf to write the new image's (``clear_image_defaults``).
   The result is made durable, then the links are switched patch → minor → major → current.
   With no migrations at all the links are switched to the existing directory.
6. Datastore directories beyond the last two, and links left dangling, are removed.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from thar.datastore import LIVE, FilesystemDataStore, Version

from .errors import MigrationFailure, MigratorError, TargetExists
from .links import DOOMED_PREFIX, cleanup, current_version, flip_to_new_version, random_suffix, sweep, sync_filesystem
from .migration_helpers import Direction
from .runner import CHAIN_FAILED, CHAIN_RESULT, LineSink, is_chainable, preload, run_chain, run_executable
from .selection import find_migrations
from .tuf_cache import cached_migrations, has_cache, load_cache

__all__ = ["MigrationRun", "migrate_datastore"]

log = logging.getLogger("migrator")
PROGRESS = "progress:"


@dataclass
class MigrationRun:
    """What a migrator run did."""

    from_version: Version
    to_version: Version
    migrations: list[Path]
    durations: list[float]
    datastore: Path  # the directory current leads to afterwards
    removed: list[str]


def _sink(name: str) -> LineSink:
    def sink(stream: str, line: str) -> None:
        if stream == "stderr":
            log.error("%s: %s", name, line)
        elif line.startswith(PROGRESS):
            log.info("%s: %s", name, line[len(PROGRESS) :].strip())
        else:
            log.debug("%s: %s", name, line)

    return sink


class _Remover:
    """Removes intermediate datastores on a thread of its own, while the next migration runs.
    Each is first renamed to a name with ``~`` (which no datastore has), so a half-removed one
    left by a crash is never taken for a datastore and is swept at the next run."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.queue: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None

    def remove(self, path: Path) -> None:
        doomed = self.base / f"{DOOMED_PREFIX}{path.name}"
        try:
            os.rename(path, doomed)
        except OSError as exc:
            log.warning("Cannot remove intermediate datastore %s: %s", path, exc.strerror or exc)
            return
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="migrator-remove", daemon=True)
            self.thread.start()
        self.queue.put(doomed)

    def _run(self) -> None:
        while (path := self.queue.get()) is not None:
            shutil.rmtree(path, ignore_errors=True)

    def finish(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None


def _groups(migrations: list[Path], fork_python: bool) -> list[list[Path]]:
    """Consecutive chainable migrations grouped (to run as one chain); the rest one by one."""
    groups: list[list[Path]] = []
    chained = False
    for path in migrations:
        chainable = fork_python and is_chainable(path)
        if chainable and chained:
            groups[-1].append(path)
        else:
            groups.append([path])
        chained = chainable
    return groups


def _run_one(migration: Path, index: int, total: int, src: Path, tgt: Path, direction: str, fork_python: bool) -> float:
    log.info("[%d/%d] Running %s %s", index, total, migration.name, direction)
    args = [direction, "--source-datastore", str(src), "--target-datastore", str(tgt)]
    t0 = time.perf_counter()
    try:
        status = run_executable(migration, args, _sink(migration.name), fork_python=fork_python)
    except OSError as exc:
        raise MigrationFailure(migration, f"cannot run it: {exc.strerror or exc}") from exc
    elapsed = time.perf_counter() - t0
    if status != 0:
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        raise MigrationFailure(migration, how)
    log.info("[%d/%d] %s took %.3f s", index, total, migration.name, elapsed)
    return elapsed


def _run_chained(group: list[Path], first: int, total: int, src: Path, tgt: Path, direction: str) -> list[float]:
    last = first + len(group) - 1
    log.info("[%d-%d/%d] Running %s … %s %s as one chain", first, last, total, group[0].name, group[-1].name, direction)
    reported: dict[str, str] = {}
    output = _sink(f"{group[0].name}…{group[-1].name}")

    def sink(stream: str, line: str) -> None:
        for mark in (CHAIN_RESULT, CHAIN_FAILED):
            if stream == "stdout" and line.startswith(mark):
                reported[mark] = line[len(mark) :]
                return
        output(stream, line)

    way = Direction.FORWARD if direction == "--forward" else Direction.BACKWARD
    t0 = time.perf_counter()
    status = run_chain(group, way, src, tgt, sink)
    elapsed = time.perf_counter() - t0
    if status != 0:
        failed = group[int(reported[CHAIN_FAILED])] if CHAIN_FAILED in reported else group[0]
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        where = "" if CHAIN_FAILED in reported else f" (in the chain {group[0].name} … {group[-1].name})"
        raise MigrationFailure(failed, how + where)
    timings = [float(t) for t in json.loads(reported.get(CHAIN_RESULT, "[]"))]
    for offset, (path, spent) in enumerate(zip(group, timings, strict=True)):
        log.info("[%d/%d] %s took %.3f s", first + offset, total, path.name, spent)
    log.info("[%d-%d/%d] the chain took %.3f s, reading and writing the datastore once", first, last, total, elapsed)
    return timings


def _run_all(
    migrations: list[Path], source: Path, base: Path, target: Version, direction: str, fork_python: bool
) -> tuple[Path, list[float]]:
    """Run ``migrations`` in order from ``source``; the last result and each one's duration."""
    durations: list[float] = []
    remover = _Remover(base)
    src = source
    index = 1
    try:
        for group in _groups(migrations, fork_python):
            tgt = base / f"v{target}_{random_suffix()}"
            if tgt.exists():
                raise TargetExists(tgt)
            if len(group) == 1:
                durations.append(_run_one(group[0], index, len(migrations), src, tgt, direction, fork_python))
            else:
                durations += _run_chained(group, index, len(migrations), src, tgt, direction)
            index += len(group)
            if src != source:
                remover.remove(src)  # the previous intermediate; the original is never removed
            src = tgt
    finally:
        remover.finish()
    return src, durations


def clear_image_defaults(datastore: Path, *, sync: bool = True) -> int:
    """Remove from live what storewolf writes from the image's defaults when live lacks it — the
    ``services`` and ``configuration-files`` trees and all setting metadata — so the new
    version's storewolf writes the new image's (updates.md §10.2; Bottlerocket #456). Settings
    and pending transactions are not touched. Returns how many entries were removed."""
    if not (datastore / "live").is_dir():
        return 0  # nothing committed yet: nothing to clear
    ds = FilesystemDataStore(datastore, durable=sync)
    try:
        keys = ds.list_populated_keys("services.", LIVE) | ds.list_populated_keys("configuration-files.", LIVE)
        ds.unset_keys(keys, LIVE)
        metadata = ds.list_populated_metadata("")
        for key, names in metadata.items():
            for name in names:
                ds.unset_metadata(name, key)
    finally:
        ds.close()
    count = sum(len(names) for names in metadata.values())
    log.info(
        "Cleared %d services and configuration-files key(s) and %d metadata entries for the new image's defaults",
        len(keys),
        count,
    )
    return len(keys) + count


def migrate_datastore(
    datastore_path: Path,
    migration_directory: Path,
    target: Version,
    *,
    sync: bool = True,
    fork_python: bool = True,
    root_path: Path | None = None,
    metadata_directory: Path | None = None,
    clear_defaults: bool = True,
) -> MigrationRun:
    """Migrate the datastore at ``datastore_path`` (normally ``D/current``) to ``target``.

    When ``metadata_directory`` holds updog's TUF mirror, the migrations come from the cache
    updog wrote in ``migration_directory``, verified from the trusted root ``root_path``
    (``tuf_cache``); otherwise from the directory's ``migrate_v…`` executables. After the
    migrations (``clear_defaults``) the image's defaults are cleared from the result
    (:func:`clear_image_defaults`)."""
    source = datastore_path.resolve(strict=True)
    base = source.parent
    current = current_version(base)
    sweep(base)
    if current == target:
        log.info("Requested version %s matches version of given datastore at '%s'; nothing to do", target, source)
        return MigrationRun(current, target, [], [], source, cleanup(base, [source]))
    FilesystemDataStore(source, durable=sync).close()  # finish an interrupted commit first
    with tempfile.TemporaryDirectory(prefix="migrator-") as workdir:  # mode 0700
        if has_cache(metadata_directory):
            assert metadata_directory is not None
            if root_path is None:
                raise MigratorError(
                    f"{metadata_directory} holds a cached update repository: --root-path is needed to verify it"
                )
            log.info("Loading the migrations cached in %s (metadata: %s)", migration_directory, metadata_directory)
            cache = load_cache(root_path, metadata_directory, migration_directory)
            migrations = cached_migrations(cache, current, target, Path(workdir))
        else:
            migrations = find_migrations(migration_directory, current, target)
        return _migrate(
            source, base, current, target, migrations, sync=sync, fork_python=fork_python, clear_defaults=clear_defaults
        )


def _migrate(
    source: Path,
    base: Path,
    current: Version,
    target: Version,
    migrations: list[Path],
    *,
    sync: bool,
    fork_python: bool,
    clear_defaults: bool,
) -> MigrationRun:
    forward = current < target
    direction = "--forward" if forward else "--backward"
    log.info(
        "Migrating datastore %s %s from %s to %s: %d migration(s)",
        source,
        "forward" if forward else "backward",
        current,
        target,
        len(migrations),
    )
    if fork_python and migrations:
        preload(migrations)
    started = time.perf_counter()
    src, durations = _run_all(migrations, source, base, target, direction, fork_python)
    if migrations:
        log.info("Ran %d migration(s) in %.3f s", len(migrations), time.perf_counter() - started)
    if clear_defaults:
        clear_image_defaults(src, sync=sync)
    if sync:
        sync_filesystem(src)
    flip_to_new_version(target, src, sync=sync)
    log.info("Datastore at %s is now version %s", src, target)
    removed = cleanup(base, [src, source])
    return MigrationRun(current, target, migrations, durations, src, removed)
