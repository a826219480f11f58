"""Seeding a datastore with a variant's defaults: Bottlerocket's storewolf algorithm.

Each boot, ``seed`` (spec: storewolf-and-committer.md §2.2):

1. removes ``D/current/pending`` (every pending transaction);
2. opens ``D/current``; when it leads nowhere, finishes the datastore an interrupted run
   left, or writes a new one in full (steps 3–6) under a temporary name and only then makes
   its version links, so a run killed at any moment is completed by the next one;
3. notes the live data keys and the (data key, metadata name) pairs already there;
4. writes the default ``settings`` that live lacks to the pending transaction
   ``bottlerocket-launch`` (settings-committer commits them later);
5. writes the default metadata that live lacks, always to live;
6. writes every other default (``services``, ``configuration-files``) that live lacks, to live;
7. points the inventory symlink at the application inventory.

Defaults never overwrite or update anything already in live; only keys and metadata new to
the defaults are added. Changed defaults reach an existing datastore through migrations.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from thar.datastore import (
    LIVE,
    DatastoreError,
    FilesystemDataStore,
    Key,
    KeyType,
    Pending,
    Version,
    publish_datastore,
    resume_new_datastore,
    start_new_datastore,
    to_json,
    to_pairs,
    to_pairs_with_prefix,
)

from .errors import (
    DatastoreAccess,
    DatastoreCreation,
    DefaultSettingsNotTable,
    DefaultsMetadataUnexpectedFormat,
    DeletePending,
    Internal,
    InvalidDefaultsKey,
    InventorySymlink,
    MultilineKey,
    SerializationFailed,
    StorewolfError,
)

if TYPE_CHECKING:
    from .defaults import Defaults

__all__ = [
    "INVENTORY_PATH",
    "LAUNCH_TRANSACTION",
    "DefaultMetadata",
    "Seeded",
    "create_inventory_symlink",
    "delete_pending",
    "parse_metadata_toml",
    "populate_default_datastore",
    "seed",
]

log = logging.getLogger("storewolf")
P = ParamSpec("P")
T = TypeVar("T")

#: The pending transaction default settings go to; settings-committer commits it at boot.
LAUNCH_TRANSACTION = "bottlerocket-launch"
#: Bottlerocket's application inventory, the default target of the inventory symlink.
INVENTORY_PATH = Path("/usr/share/bottlerocket/application-inventory.json")

# What SingleLineString (Bottlerocket's check on metadata keys) calls a line terminator.
_LINE_TERMINATORS = frozenset("\n\r\u000b\u000c\u0085\u2028\u2029")
_KEY_TYPE_NAMES = {KeyType.DATA: "Data", KeyType.META: "Meta"}  # Rust's Debug form, as in its messages


@dataclass(frozen=True)
class DefaultMetadata:
    """One metadata entry of the defaults: ``name`` set on the data key ``data_key``.

    ``data_key`` is the table path joined with ``.`` and no quoting, exactly as Bottlerocket
    builds it, so ``[metadata.settings.a."b.c"]`` names the data key ``settings.a.b.c``.
    """

    data_key: str
    name: str
    value: Any


@dataclass
class Seeded:
    """What one run wrote: the new datastore directory, if it made one, and the keys it set."""

    created: Path | None = None
    settings: set[Key] = field(default_factory=set)
    metadata: set[tuple[Key, Key]] = field(default_factory=set)  # (data key, metadata key)
    other: set[Key] = field(default_factory=set)


def seed(
    base_path: str | os.PathLike[str],
    defaults: Defaults,
    version: Version | Callable[[], Version],
    *,
    inventory: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
    durable: bool = True,
) -> Seeded:
    """Run storewolf: check the defaults, then spec §2.2 steps 1–8 below ``base_path``.

    ``version`` (or the function returning it, called only when a datastore is created) names
    the new datastore's version. ``inventory`` is ``(target, symlink path)``; None makes no
    symlink. With defaults that do not fit their variant's model, raises InvalidDefaults and
    writes nothing. Once the launch transaction is committed, another run with the same
    defaults only drops the pending transactions. Raises StorewolfError subclasses.
    """
    defaults.check()
    base = Path(base_path)
    log.info("Deleting pending transactions")
    delete_pending(base)
    log.info("Populating datastore at: %s", base)
    seeded = populate_default_datastore(base, defaults.table, version, durable=durable)
    log.info(
        "Datastore populated: %d new default setting(s) pending in '%s', %d new metadata, %d other new key(s)",
        len(seeded.settings), LAUNCH_TRANSACTION, len(seeded.metadata), len(seeded.other),
    )  # fmt: skip
    if inventory is not None:
        target, link = inventory
        log.info("Creating inventory file symlink at: %s", link)
        create_inventory_symlink(target, link)
        log.info("Inventory symlink created")
    return seeded


def delete_pending(base_path: str | os.PathLike[str]) -> None:
    """``rm -rf D/current/pending``: drop every pending transaction. A missing directory (or a
    missing datastore) is fine; anything else raises DeletePending."""
    pending = Path(base_path) / "current" / "pending"
    try:
        if pending.is_symlink():
            pending.unlink()  # as Rust's remove_dir_all: remove the link, never what it points to
        else:
            shutil.rmtree(pending)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DeletePending(pending, exc.strerror or str(exc)) from exc


def populate_default_datastore(
    base_path: str | os.PathLike[str],
    defaults: Mapping[str, Any],
    version: Version | Callable[[], Version],
    *,
    durable: bool = True,
) -> Seeded:
    """Steps 2–7: open (or create) ``base_path/current`` and add every default it lacks.

    ``defaults`` is the parsed TOML root (it is not modified). When ``current`` leads to no
    directory, a datastore for ``version`` is written in full under a temporary name and only
    then given its name and links (``datastore.version``), after what an interrupted run left
    is finished or removed: a run killed at any moment is completed by the next one, which
    leaves exactly what an uninterrupted run does. Every write is durable on return.
    """
    base = Path(base_path)
    current = base / "current"
    if current.is_dir():
        return _populate(current, defaults, durable)
    version = version if isinstance(version, Version) else version()
    try:
        resumed = resume_new_datastore(base, version, sync=durable)
    except (DatastoreError, OSError) as exc:
        raise DatastoreCreation(_reason(exc)) from exc
    if resumed is not None:
        # Written in full by a run that was killed before its links were: it gets this
        # boot's pending transactions, as any existing datastore does.
        log.info("Finished the datastore an interrupted run created at: %s", resumed)
        delete_pending(base)
        seeded = _populate(current, defaults, durable)
        seeded.created = resumed
        return seeded
    log.info("Creating datastore at: %s", current / "live")
    try:
        building = start_new_datastore(base, version)
    except (DatastoreError, OSError) as exc:
        raise DatastoreCreation(_reason(exc)) from exc
    try:
        seeded = _populate(building, defaults, durable)
        seeded.created = publish_datastore(building, sync=durable)
    except StorewolfError:
        shutil.rmtree(building, ignore_errors=True)  # leave the base as it was
        raise
    except (DatastoreError, OSError) as exc:
        shutil.rmtree(building, ignore_errors=True)
        raise DatastoreCreation(_reason(exc)) from exc
    return seeded


def _populate(path: Path, defaults: Mapping[str, Any], durable: bool) -> Seeded:
    """Steps 3, 5–7 on the datastore directory ``path``, which is closed before returning."""
    ds = _open(path, durable)
    table = dict(defaults)
    metadata = table.pop("metadata", None)
    settings = table.pop("settings", None)
    seeded = Seeded()
    try:
        log.debug("Gathering existing data from the datastore")
        existing_metadata = _datastore_call(
            "Error querying datastore for populated metadata", ds.list_populated_metadata, ""
        )
        existing_data: set[Key] = set()
        if (path / "live").is_dir():  # live/ is made by the first write to it
            existing_data = _datastore_call(
                "Error querying datastore for populated keys", ds.list_populated_keys, "", LIVE
            )
        seeded.settings = populate_default_data(ds, settings, existing_data)
        seeded.metadata = populate_default_metadata(ds, metadata, existing_metadata)
        seeded.other = populate_other_defaults(ds, table, existing_data)
    except BaseException:
        _close_quietly(ds)
        raise
    _datastore_call("Unable to write the datastore to disk", ds.close)
    return seeded


def populate_default_data(ds: FilesystemDataStore, settings: Any, existing_data: set[Key]) -> set[Key]:
    """Step 5: the default ``settings`` whose keys live lacks go to ``bottlerocket-launch``."""
    if settings is None:
        return set()
    if not isinstance(settings, dict):
        raise DefaultSettingsNotTable()
    log.debug("Serializing default settings and writing new ones to datastore")
    try:
        pairs = to_pairs_with_prefix("settings", settings)
    except DatastoreError as exc:
        raise SerializationFailed("default settings", str(exc)) from exc
    to_write = {key: value for key, value in pairs.items() if key not in existing_data}
    _datastore_call("Unable to write keys to the datastore", ds.set_keys, to_write, Pending(LAUNCH_TRANSACTION))
    return set(to_write)


def populate_default_metadata(
    ds: FilesystemDataStore, metadata: Any, existing_metadata: Mapping[Key, set[Key]]
) -> set[tuple[Key, Key]]:
    """Step 6: metadata the live datastore lacks is written to live; existing metadata is
    never overwritten or removed. Every entry is checked before the first is written."""
    if metadata is None:
        return set()
    log.debug("Serializing metadata and writing new keys to datastore")
    existing = {(data_key, meta) for data_key, metas in existing_metadata.items() for meta in metas}
    to_write: dict[tuple[Key, Key], str] = {}
    for entry in parse_metadata_toml(metadata):
        data_key = _make_key(entry.data_key, KeyType.DATA)
        meta = _make_key(entry.name, KeyType.META)
        if (data_key, meta) in existing:
            continue
        try:
            to_write[data_key, meta] = to_json(entry.value)
        except (TypeError, ValueError) as exc:
            raise SerializationFailed(f"metadata value '{entry.data_key}.{entry.name}'", str(exc)) from exc
    for (data_key, meta), value in to_write.items():
        _datastore_call("Unable to write metadata to the datastore", ds.set_metadata, meta, data_key, value)
    return set(to_write)


def populate_other_defaults(ds: FilesystemDataStore, table: Mapping[str, Any], existing_data: set[Key]) -> set[Key]:
    """Step 7: everything but ``settings`` and ``metadata`` (``services``,
    ``configuration-files``, any other top-level table) that live lacks goes to live."""
    log.debug("Serializing other defaults and writing new ones to datastore")
    try:
        pairs = to_pairs(dict(table))
    except DatastoreError as exc:
        raise SerializationFailed("other defaults", str(exc)) from exc
    to_write = {key: value for key, value in pairs.items() if key not in existing_data}
    _datastore_call("Unable to write keys to the datastore", ds.set_keys, to_write, LIVE)
    return set(to_write)


def parse_metadata_toml(metadata: Any) -> list[DefaultMetadata]:
    """The entries of the defaults' ``metadata`` table, in document order.

    Tables are walked; a string or an array is an entry whose last path segment is the
    metadata name and whose other segments, joined with ``.``, the data key::

        {"settings": {"motd": {"affected-services": ["motd"]}}}
        -> [DefaultMetadata("settings.motd", "affected-services", ["motd"])]
        {"settings": {"updates": {"seed": {"setting-generator": "bork seed"}}}}
        -> [DefaultMetadata("settings.updates.seed", "setting-generator", "bork seed")]

    Any other value (integer, float, boolean, date) raises DefaultsMetadataUnexpectedFormat;
    an entry with no data key raises Internal; a line terminator in either part raises
    MultilineKey.
    """
    found: list[DefaultMetadata] = []
    _walk_metadata(metadata, (), found)
    return found


def _walk_metadata(value: Any, path: tuple[str, ...], found: list[DefaultMetadata]) -> None:
    # thar: a table-form ``setting-generator`` ({command, skip-if-populated, strength}) is one
    # metadata value, stored as its compact JSON object, not walked into.
    is_generator_table = isinstance(value, dict) and len(path) > 1 and path[-1] == "setting-generator"
    if isinstance(value, dict) and not is_generator_table:
        for name, member in value.items():
            _walk_metadata(member, (*path, name), found)
        return
    if not isinstance(value, (str, list)) and not is_generator_table:
        raise DefaultsMetadataUnexpectedFormat(".".join(("metadata", *path)))
    if not path:
        raise Internal("parse_metadata_toml found an empty path - is 'metadata' not a table?")
    *data_path, name = path
    if not data_path:
        raise Internal(f"Cannot create empty metadata data key for 'metadata.{name}' - is root not a table?")
    data_key = ".".join(data_path)
    for text in (name, data_key):
        if any(c in _LINE_TERMINATORS for c in text):
            raise MultilineKey(text)
    found.append(DefaultMetadata(data_key, name, value))


def create_inventory_symlink(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
    """Step 8: make ``destination`` a symlink to ``source``, creating its parent directories
    and replacing whatever file or symlink is there (not a directory). Idempotent."""
    link = Path(destination)
    parent = link.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InventorySymlink(f"The symlink parent dir '{parent}' could not be created: {_reason(exc)}.") from exc
    try:
        link.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise InventorySymlink(f"Could not delete old inventory symlink: {_reason(exc)}: {link}") from exc
    try:
        os.symlink(source, link)
    except OSError as exc:
        raise InventorySymlink(f"Could not create new inventory symlink: {_reason(exc)}: {link}") from exc


def _make_key(name: str, key_type: KeyType) -> Key:
    try:
        return Key(name, key_type)
    except DatastoreError as exc:
        raise InvalidDefaultsKey(_KEY_TYPE_NAMES[key_type], name, str(exc)) from exc


def _open(current: Path, durable: bool) -> FilesystemDataStore:
    try:
        return FilesystemDataStore(current, durable=durable)
    except (DatastoreError, OSError) as exc:
        raise DatastoreAccess(f"Unable to open the datastore at {current}", _reason(exc)) from exc


def _datastore_call(what: str, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``call(*args)``, with datastore and OS errors turned into DatastoreAccess(what)."""
    try:
        return call(*args, **kwargs)
    except (DatastoreError, OSError) as exc:
        raise DatastoreAccess(what, _reason(exc)) from exc


def _close_quietly(ds: FilesystemDataStore) -> None:
    # Called while another error propagates: that one is what the user needs to see.
    with contextlib.suppress(DatastoreError, OSError, StorewolfError):
        ds.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)
