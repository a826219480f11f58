"""Running a migration: read every committed state of the source datastore into
``MigrationData``, hand it to the migration, write the result into the (empty) target.

``MigrationData.data`` maps flat dotted key names (canonical form, such as
``settings.kernel.sysctl."net.ipv4.ip_forward"``) to JSON values: every key stored in that
state, plus ``os.pretty_name``, ``os.variant_id``, ``os.version_id``, ``os.build_id`` and
``os.arch`` of the running image. ``MigrationData.metadata`` maps data key names to
``{metadata name: JSON value}``; it holds all metadata for live and is empty for a pending
transaction (metadata is always live). Whatever the migration leaves out is absent from the
target: that is how keys are removed.
"""

from __future__ import annotations

import abc
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thar.datastore import (
    LIVE,
    Committed,
    DatastoreError,
    FilesystemDataStore,
    Key,
    KeyType,
    Live,
    Pending,
    from_json,
    meta_key,
    to_json,
)
from thar.osrelease import read_os_release
from thar.paths import thar_root

from ..errors import MigrationError, MigrationsError
from .args import Direction, parse_args

__all__ = [
    "OS_RELEASE",
    "PROGRESS_EVERY",
    "ChainFailure",
    "Migration",
    "MigrationData",
    "get_input_data",
    "migrate",
    "os_data",
    "run_migration",
    "run_migrations",
    "set_output_data",
]

OS_RELEASE = Path("usr/lib/os-release")
#: A state with more keys than this prints ``progress:`` lines while it is written.
PROGRESS_EVERY = 10_000


@dataclass
class MigrationData:
    """One committed state of a datastore, as a migration sees and returns it."""

    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


class Migration(abc.ABC):
    """A migration: ``forward`` for an upgrade, ``backward`` for a downgrade. Both take the
    data of one committed state and return it changed (they may change it in place)."""

    @abc.abstractmethod
    def forward(self, data: MigrationData) -> MigrationData: ...

    @abc.abstractmethod
    def backward(self, data: MigrationData) -> MigrationData: ...

    def run(self, data: MigrationData, direction: Direction) -> MigrationData:
        return self.forward(data) if direction is Direction.FORWARD else self.backward(data)


def os_data(root: Path | None = None) -> dict[str, str]:
    """The ``os.*`` keys of the running image, from ``$THAR_ROOT/usr/lib/os-release``."""
    path = (root or thar_root()) / OS_RELEASE
    try:
        fields = read_os_release(path)
    except OSError as exc:
        raise MigrationError(
            f"Cannot read the running image's os-release {path}: {exc.strerror or exc}; migrations need its "
            "VARIANT_ID and VERSION_ID (set THAR_ROOT when running outside the image)"
        ) from exc
    missing = [name for name in ("VARIANT_ID", "VERSION_ID") if name not in fields]
    if missing:
        raise MigrationError(f"os-release {path} lacks {' and '.join(missing)}")
    return {
        "os.pretty_name": fields.get("PRETTY_NAME", ""),
        "os.variant_id": fields["VARIANT_ID"],
        "os.version_id": fields["VERSION_ID"],
        "os.build_id": fields.get("BUILD_ID", ""),
        "os.arch": platform.machine(),
    }


def _describe(committed: Committed) -> str:
    return "live" if isinstance(committed, Live) else f"pending transaction '{committed.tx}'"


def get_input_data(store: FilesystemDataStore, committed: Committed, os_keys: dict[str, str]) -> MigrationData:
    """Every key of ``committed`` (parsed as JSON) plus ``os_keys``; all metadata for live."""
    data: dict[str, Any] = {}
    for key, value in store.get_prefix("", committed).items():
        try:
            data[key.name] = from_json(value)
        except ValueError as exc:
            raise MigrationError(
                f"Value of '{key.name}' in {_describe(committed)} is not JSON ({exc}): {value!r}"
            ) from exc
    data.update(os_keys)
    metadata: dict[str, dict[str, Any]] = {}
    if isinstance(committed, Live):
        for key, metas in store.get_metadata_prefix("").items():
            inner = metadata.setdefault(key.name, {})
            for meta, value in metas.items():
                try:
                    inner[meta.name] = from_json(value)
                except ValueError as exc:
                    raise MigrationError(
                        f"Metadata '{meta.name}' of '{key.name}' is not JSON ({exc}): {value!r}"
                    ) from exc
    return MigrationData(data, metadata)


def set_output_data(store: FilesystemDataStore, output: MigrationData, committed: Committed) -> None:
    """Write ``output`` into ``committed`` of ``store`` (compact JSON, Bottlerocket's form);
    metadata always goes to live. Prints ``progress:`` lines for a state above 10k keys."""
    pairs: dict[Key, str] = {}
    for name, value in output.data.items():
        try:
            key = Key(name, KeyType.DATA)
        except DatastoreError as exc:
            raise MigrationError(f"The migration produced an invalid key: {exc}") from exc
        pairs[key] = to_json(value)
    total = len(pairs)
    if total <= PROGRESS_EVERY:
        store.set_keys(pairs, committed)
    else:
        items = list(pairs.items())
        for start in range(0, total, PROGRESS_EVERY):
            store.set_keys(dict(items[start : start + PROGRESS_EVERY]), committed)
            done = min(start + PROGRESS_EVERY, total)
            print(f"progress: wrote {done}/{total} keys of {_describe(committed)}", flush=True)
    for setting, metas in output.metadata.items():
        if not metas:
            continue
        try:
            key = Key(setting, KeyType.DATA)
        except DatastoreError as exc:
            raise MigrationError(f"The migration produced metadata for an invalid key: {exc}") from exc
        for name, value in metas.items():
            try:
                meta = meta_key(name)
            except DatastoreError as exc:
                raise MigrationError(f"The migration produced an invalid metadata name on '{setting}': {exc}") from exc
            store.set_metadata(meta, key, to_json(value))


def run_migration(migration: Migration, source: Path, target: Path, direction: Direction) -> None:
    """Migrate live and then every pending transaction of ``source`` into ``target``.

    ``target`` is created if needed and must not hold a datastore already. It is written
    without fsyncs: the migrator makes the final datastore durable once, before it switches
    the version links to it.
    """
    run_migrations([migration], source, target, direction)


class ChainFailure(MigrationError):
    """Migration number ``index`` of a chain failed."""

    def __init__(self, index: int, cause: Exception) -> None:
        self.index = index
        self.cause = cause
        super().__init__(str(cause))


def _canonical(data: MigrationData, before: set[str]) -> None:
    """Give the key names a migration added their canonical form, as writing them to a
    datastore and reading them back would."""
    for name in set(data.data) - before:
        try:
            canonical = Key.from_segments(Key(name, KeyType.DATA).segments).name
        except DatastoreError:
            continue  # reported when the key is written
        if canonical != name:
            data.data[canonical] = data.data.pop(name)


def run_migrations(
    migrations: Sequence[Migration],
    source: Path,
    target: Path,
    direction: Direction,
    timings: list[float] | None = None,
) -> None:
    """``run_migration`` for a chain of migrations: each committed state is read once, passed
    through every migration in turn, and written once. ``timings`` receives each migration's
    time. A failure raises ChainFailure naming the migration's index."""
    if (target / "live").exists():
        raise MigrationError(f"Target datastore {target} already holds a datastore; give a new path")
    try:
        target.mkdir(exist_ok=True)
        (target / "live").mkdir()
    except OSError as exc:
        raise MigrationError(f"Cannot create the target datastore {target}: {exc.strerror or exc}") from exc
    spent = [0.0] * len(migrations)
    os_keys = os_data()
    src = FilesystemDataStore(source, durable=False)
    try:
        tgt = FilesystemDataStore(target, durable=False)
        try:
            states: list[Committed] = [LIVE, *(Pending(tx) for tx in sorted(src.list_transactions()))]
            for committed in states:
                data = get_input_data(src, committed, os_keys)
                for index, migration in enumerate(migrations):
                    started = time.perf_counter()
                    before = set(data.data) if index + 1 < len(migrations) else set()
                    try:
                        data = migration.run(data, direction)
                        if index + 1 < len(migrations):
                            _canonical(data, before)
                    except (MigrationsError, DatastoreError) as exc:
                        raise ChainFailure(index, exc) from exc
                    spent[index] += time.perf_counter() - started
                set_output_data(tgt, data, committed)
        finally:
            tgt.close()
    finally:
        src.close()
    if timings is not None:
        timings.extend(spent)


def migrate(migration: Migration, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """The whole main of a migration executable: ``sys.exit(migrate(SomeMigration(...)))``.

    Parses the arguments (usage errors exit 2), runs the migration, and returns 0, or 1
    after printing the error on stderr.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv, prog)
    try:
        run_migration(migration, args.source_datastore, args.target_datastore, args.direction)
    except (MigrationsError, DatastoreError) as exc:
        print(f"Migration failed: {exc}", file=sys.stderr)
        return 1
    return 0
