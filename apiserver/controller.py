"""Maps between the datastore and the API: every endpoint's logic, with no HTTP in sight.

Reads are served from ``Snapshot``, an immutable in-memory copy of live data swapped after
each commit, so a reader never waits for a writer. Writes (PATCH, DELETE /tx, commits) are
serialized by the caller (``routes.py`` holds one lock and runs them in a worker thread), and so
are reads of the journal and of pending transactions (the journal's connection is used by one
thread at a time). The routes reach the datastore only through this class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from thar.datastore import (
    LIVE,
    Caller,
    Commit,
    DataStore,
    DatastoreError,
    InvalidKey,
    Key,
    Pending,
    from_map_with_prefix,
    meta_key,
    to_pairs_with_prefix,
)
from thar.models import ConfigurationFile, ModelError, Service, Variant, parse_os_release
from thar.models.names import split_name, unknown_name

from .errors import (
    BadKey,
    BadPrefix,
    CommitWithNoPending,
    DataStoreFailed,
    EmptyInput,
    InvalidInput,
    JsonDeserialize,
    KeypairModelMismatch,
    MetadataNotJson,
    NotASetting,
    NotFoundInDatastore,
    OsReleaseFailed,
    SerdeFailed,
    SplitFailed,
    UnknownSetting,
    write_failed,
)
from .history import commit_patch, history_entries, revert_changes, rollback_changes
from .staging import (
    REMOVALS,
    Guard,
    pending_changes,
    settings_key,
    stage_json_patch,
    stage_removals,
    staged_removals,
)
from .watch import journal_changed_since

__all__ = ["Controller", "Snapshot", "check_prefix", "type_keypair_value"]

SETTINGS, SERVICES, CONFIGURATION_FILES, OS = "settings.", "services.", "configuration-files.", "os."


@dataclass(frozen=True)
class Snapshot:
    """Live data at one generation: ``{key name: stored JSON}``; never mutated once built."""

    generation: int
    values: Mapping[str, str]
    cache: dict[str, bytes] = field(default_factory=dict, compare=False)  # responses, per generation

    def matching(self, prefix: str) -> dict[Key, str]:
        return {Key(name): value for name, value in self.values.items() if name.startswith(prefix)}


def check_prefix(given: str, area: str) -> str | None:
    """Bottlerocket's prefix resolution: the whole area, the given prefix, or no match."""
    if area.startswith(given):
        return area
    if given.startswith(area):
        return given
    return None


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_JSON_WS = " \t\n\r"


def type_keypair_value(text: str) -> bool | int | float | str:
    """The value of ``key=value`` as ``PATCH /settings/keypair`` types it: a JSON boolean, an
    integer (thar keeps negative integers as integers; Bottlerocket turns them into floats),
    any other JSON number as a float, or else the raw text as a string."""
    stripped = text.strip(_JSON_WS)
    if stripped in ("true", "false"):
        return stripped == "true"
    # (at most 20 digits: longer literals are out of range, and int() refuses thousands of them)
    if len(stripped) <= 21 and _JSON_INTEGER.fullmatch(stripped) and -(2**63) <= int(stripped) <= 2**64 - 1:
        return int(stripped)
    if _JSON_NUMBER.fullmatch(stripped):
        value = float(stripped)
        if value not in (float("inf"), float("-inf")):
            return value
    return text


def _has(found: dict[str, Any], name: str) -> bool:
    """Whether the nested answer ``found`` holds the dotted ``name``."""
    node: Any = found
    for segment in split_name(name):
        if not isinstance(node, dict) or segment not in node:
            return False
        node = node[segment]
    return True


class Controller:
    """The API's logic over one datastore and one variant's model."""

    def __init__(self, datastore: DataStore, variant: Variant, os_release: Path, arch: str) -> None:
        self.datastore = datastore
        self.variant = variant
        self.os_release = os_release
        self.arch = arch
        self.snapshot = self._load_snapshot()
        # Called (in the writer thread) with each commit once the snapshot shows it: watches,
        # metrics. Keep them quick; they must not raise.
        self.listeners: list[Callable[[Commit], None]] = []

    def _load_snapshot(self) -> Snapshot:
        try:
            values = {key.name: value for key, value in self.datastore.get_prefix("", LIVE).items()}
        except DatastoreError as exc:
            raise DataStoreFailed("get_prefix '' for Live", exc) from exc
        return Snapshot(self.datastore.journal.last_generation, values)

    @property
    def last_generation(self) -> int:
        """The journal's newest generation (0: nothing committed yet)."""
        return self.datastore.journal.last_generation

    def _advance(self, commit: Commit) -> None:
        values = dict(self.snapshot.values)
        for key, change in commit.changes.items():
            if change.new is None:
                values.pop(key.name, None)
            else:
                values[key.name] = change.new
        self.snapshot = Snapshot(commit.generation, values)
        for listener in self.listeners:
            listener(commit)

    # -- reads (from the snapshot) -------------------------------------------------------------
    def get_settings(self, keys: list[str] | None = None, prefix: str | None = None) -> dict[str, Any]:
        snapshot = self.snapshot
        if keys is not None:
            found: dict[Key, str] = {}
            for name in keys:
                key = _data_key(name)
                # Used verbatim, as Bottlerocket does (`motd` finds nothing). Where Bottlerocket answers
                # 500 (a key outside `settings.` that exists, a map: "Is a directory"), thar answers 400.
                value = snapshot.values.get(key.name)
                is_map = value is None and any(other.startswith(key.name + ".") for other in snapshot.values)
                if (value is not None or is_map) and key.segments[0] != "settings":
                    raise NotASetting(name, "is not under 'settings.'")
                if is_map:
                    raise NotASetting(name, f"is a map of settings, not a single one: use prefix={name} for a subtree")
                if value is not None:
                    found[key] = value
            return _nest(found, "settings")
        if prefix is not None:
            if prefix == "":
                raise EmptyInput("prefix")
            if not prefix.startswith("settings"):
                prefix = SETTINGS + prefix
            resolved = check_prefix(prefix, SETTINGS)
            return {} if resolved is None else _nest(snapshot.matching(resolved), "settings")
        settings = snapshot.matching(SETTINGS)
        if not settings:
            raise NotFoundInDatastore("settings")
        return _nest(settings, "settings")

    def get_model(self, prefix: str | None = None) -> dict[str, Any]:
        snapshot = self.snapshot
        if prefix is None:
            model: dict[str, Any] = {}
            for area, name in ((SETTINGS, "settings"), (SERVICES, "services"),
                               (CONFIGURATION_FILES, "configuration-files")):  # fmt: skip
                pairs = snapshot.matching(area)
                if not pairs:
                    raise NotFoundInDatastore(name)
                model[name] = self._area(pairs, name)
            model["os"] = self.get_os()
            return model
        if prefix == "":
            raise EmptyInput("prefix")
        model = {}
        for area, name in (
            (SETTINGS, "settings"),
            (SERVICES, "services"),
            (CONFIGURATION_FILES, "configuration-files"),
        ):
            resolved = check_prefix(prefix, area)
            if resolved is not None:
                pairs = snapshot.matching(resolved)
                if pairs:
                    model[name] = self._area(pairs, name, resolved)
        if check_prefix(prefix, OS) is not None:
            model["os"] = self._os_filtered(prefix)
        return model

    def check_setting(self, name: str, *, prefix: bool = False) -> None:
        """Raise ``UnknownSetting`` unless the variant's model has the setting ``name`` (``settings.…``)
        — with ``prefix``, a setting whose name starts with it — whether or not it has a value."""
        problem = unknown_name(self.variant.settings_model, name, prefix=prefix)
        if problem is not None:
            raise UnknownSetting(problem)

    def check_settings_query(self, keys: list[str] | None, prefix: str | None, found: dict[str, Any]) -> None:
        """``GET /settings`` with ``strict``: raise ``UnknownSetting`` for a key without a value that
        the model does not have, or for a prefix that selects nothing and names nothing in the model."""
        if keys is not None:
            for name in keys:
                if not _has(found, name):
                    self.check_setting(name)
        elif prefix is not None and not found:
            self.check_setting(prefix if prefix.startswith("settings") else SETTINGS + prefix, prefix=True)

    def check_model_prefix(self, prefix: str) -> None:
        """``GET /?prefix=`` with ``strict``: raise ``UnknownSetting`` for a prefix that selects
        nothing the variant has (a setting outside its model, or no area at all: ``motd``)."""
        if check_prefix(prefix, SETTINGS) is not None:
            self.check_setting(prefix, prefix=True)
            return
        if any(check_prefix(prefix, area) is not None for area in (SERVICES, CONFIGURATION_FILES, OS)):
            return
        if unknown_name(self.variant.settings_model, SETTINGS + prefix, prefix=True) is None:
            raise UnknownSetting(f"{prefix}: nothing has this prefix; did you mean {SETTINGS}{prefix}?")
        raise UnknownSetting(
            f"{prefix}: nothing has this prefix; prefixes start with settings., services., configuration-files. or os."
        )

    def _area(self, pairs: dict[Key, str], name: str, prefix: str | None = None) -> dict[str, Any]:
        """The area's entries from ``pairs``, each checked against its model. With ``prefix`` (what
        selected the pairs): a prefix that reaches inside an entry (``services.chronyd.r``) selects
        part of one, which is refused (400; thar: Bottlerocket fails to deserialize it, 500)."""
        nested = _nest(pairs, name)
        try:
            if name == "services":
                _check_entries(nested, Service, "services")
            elif name == "configuration-files":
                _check_entries(nested, ConfigurationFile, "configuration files")
        except SerdeFailed:
            entry, dot, inside = (prefix or "").removeprefix(name + ".").partition(".")
            if prefix is None or not prefix.startswith(name + ".") or not (dot and inside):
                raise
            raise InvalidInput("prefix", f"a prefix of whole entries (such as '{name}.{entry}')", prefix) from None
        return nested

    def get_os(self, prefix: str | None = None) -> dict[str, Any]:
        if prefix is None:
            return self._read_os()
        if prefix == "":
            raise EmptyInput("prefix")
        if not prefix.startswith("os"):
            prefix = OS + prefix
        if check_prefix(prefix, OS) is None:
            return {}
        return self._os_filtered(prefix)

    def _os_filtered(self, prefix: str) -> dict[str, Any]:
        wanted = prefix.removeprefix(OS) if prefix.startswith(OS) else ""
        return {name: value for name, value in self._read_os().items() if name.startswith(wanted)}

    def _read_os(self) -> dict[str, Any]:
        try:
            text = self.os_release.read_text(encoding="utf-8")
            return parse_os_release(text, self.arch).model_dump()
        except OSError as exc:
            raise OsReleaseFailed(f"Unable to read {self.os_release}: {exc.strerror or exc}") from exc
        except (ValueError, ValidationError) as exc:
            raise OsReleaseFailed(str(exc).replace("\n", " ")) from exc

    def get_entries(self, area: str, names: list[str] | None, prefix: str | None) -> dict[str, Any]:
        """``GET /services`` (``area="services"``) and ``GET /configuration-files``."""
        snapshot = self.snapshot
        dotted = area + "."
        if names is not None:
            result: dict[str, Any] = {}
            if "" in names:  # thar: Bottlerocket's raw prefix `services.` matches every entry (500)
                raise InvalidInput("names", "a list of names without empty ones", ",".join(names))
            for name in names:
                # The entry's own keys: a name that is a string prefix of others (`nt`, `ntp`)
                # matches nothing (thar: Bottlerocket matches both and answers 500).
                pairs = snapshot.matching(dotted + name + ".")
                if not pairs:
                    raise NotFoundInDatastore(dotted + name)
                nested = self._area(pairs, area)
                if list(nested) != [name]:  # `a.b` reached into entry `a`: there is no entry `a.b`
                    raise NotFoundInDatastore(dotted + name)
                result[name] = nested[name]
            return result
        if prefix is not None:
            if prefix == "":
                raise EmptyInput("prefix")
            if not prefix.startswith(area):
                prefix = dotted + prefix
            resolved = check_prefix(prefix, dotted)
            pairs = snapshot.matching(resolved) if resolved is not None else {}
            return self._area(pairs, area, resolved) if pairs else {}
        pairs = snapshot.matching(dotted)
        if not pairs:
            raise NotFoundInDatastore(area)
        return self._area(pairs, area)

    def get_metadata(self, name: str, keys: list[str]) -> dict[str, Any]:
        """``GET /metadata/affected-services`` and ``/metadata/templates``: inherited lookups."""
        metadata = meta_key(name)
        result: dict[str, Any] = {}
        for given in keys:
            key = _data_key(given)
            try:
                raw = self.datastore.get_metadata(metadata, key)
            except DatastoreError:
                continue
            if raw is not None:
                result[given] = _metadata_json(name, raw)
        return result

    def setting_generators(self) -> dict[str, Any]:
        generator = meta_key("setting-generator")
        try:
            found = self.datastore.get_metadata_prefix("", generator)
        except DatastoreError as exc:
            raise DataStoreFailed("get_metadata_prefix", exc) from exc
        return {key.name: _metadata_json("setting-generator", values[generator]) for key, values in found.items()}

    def get_pending(self, tx: str) -> dict[str, Any]:
        try:
            pending = self.datastore.get_prefix(SETTINGS, Pending(tx))
        except DatastoreError as exc:
            raise DataStoreFailed(f"get_prefix '{SETTINGS}' for Pending {{ tx: \"{tx}\" }}", exc) from exc
        return _nest(pending, "settings")

    def changed_since(self, since: int, upto: int, prefix: str) -> set[str]:
        """Keys under ``prefix`` changed in generations ``(since, upto]``, from the journal."""
        return journal_changed_since(self.datastore, since, upto, prefix)

    def history(self, limit: int | None, before: int | None, prefix: str | None) -> list[dict[str, Any]]:
        """``GET /tx/history``: the generations, newest first."""
        return history_entries(self.datastore, limit, before, prefix)

    def history_patch(self, generation: int) -> list[dict[str, Any]]:
        """``GET /tx/history/{generation}``: its change as a JSON Patch."""
        return commit_patch(self.datastore, self.snapshot.values, generation)

    def dry_run(self, tx: str, root: Path | None) -> dict[str, Any]:
        """What committing and applying ``tx`` would do (``dryrun.py``), doing none of it."""
        from .dryrun import dry_run  # the applier's planner is imported only for a dry run

        return dry_run(self, tx, root)

    def list_transactions(self) -> list[str]:
        try:
            return sorted(self.datastore.list_transactions())
        except DatastoreError as exc:
            raise DataStoreFailed("list_transactions", exc) from exc

    # -- writes (serialized by the caller) -------------------------------------------------------
    def patch_settings(self, tx: str, body: Any, guard: Guard | None = None) -> None:
        """Validate a Settings object and stage its leaves in ``tx`` (nothing on error)."""
        try:
            settings = self.variant.parse_settings(body)
        except ModelError as exc:
            raise JsonDeserialize("\n".join(exc.lines)) from None
        self._stage(tx, settings, guard)

    def patch_keypair(self, tx: str, payload: Iterable[str], guard: Guard | None = None) -> None:
        """Stage ``key=value`` strings, typed as ``type_keypair_value`` says."""
        leaves: dict[Key, Any] = {}
        for element in payload:
            name, sep, raw = element.partition("=")
            if not sep:
                raise SplitFailed(element)
            try:
                key = Key(name)
            except InvalidKey as exc:
                raise BadPrefix(name, exc) from None
            if key.segments[0] != "settings":
                key = Key.from_segments(("settings", *key.segments))
            elif len(key.segments) == 1:
                raise KeypairModelMismatch(f"'{name}' is the whole settings object, not a setting")
            leaves[key] = type_keypair_value(raw)
        body: dict[str, Any] = {}
        for key, value in leaves.items():
            node = body
            *parents, leaf = key.segments[1:]
            for segment in parents:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    raise KeypairModelMismatch(f"'{key.name}' is below a value")
                node = child
            if isinstance(node.get(leaf), dict):
                raise KeypairModelMismatch(f"'{key.name}' is also a prefix of other keys")
            node[leaf] = value
        try:
            settings = self.variant.parse_settings(body)
        except ModelError as exc:
            raise KeypairModelMismatch("; ".join(exc.lines)) from None
        self._stage(tx, settings, guard)

    def _stage(self, tx: str, settings: BaseModel, guard: Guard | None = None) -> None:
        dumped = settings.model_dump(mode="json", by_alias=True, exclude_none=True)
        try:
            pairs = to_pairs_with_prefix("settings", dumped)
        except DatastoreError as exc:  # a map key that cannot be a key segment (thar: 400, not 500)
            raise JsonDeserialize(str(exc)) from None
        if guard is not None:
            guard(pairs)
        try:
            self.datastore.stage(tx, pairs)
        except DatastoreError as exc:
            raise write_failed("set_keys", exc) from exc

    def stage_json_patch(self, tx: str, patch: Any, guard: Guard | None = None) -> None:
        """Apply a JSON Patch to live overlaid with ``tx``, validate the result, stage what it changes."""
        stage_json_patch(self.datastore, self.variant, tx, self.snapshot.values, patch, guard)

    def reset_settings(self, tx: str, names: list[str], guard: Guard | None = None) -> None:
        """Stage the reset of each named setting (and everything below it) to its default."""
        stage_removals(self.datastore, self.variant, tx, self.settings_to_reset(names), guard)

    def settings_to_reset(self, names: list[str]) -> list[Key]:
        """The keys ``DELETE /settings?keys=`` names (``motd`` is ``settings.motd``); each must be
        under a setting of the variant's model, else ``NotASetting`` (``os.arch`` is not one)."""
        keys = [settings_key(name) for name in names]
        for name, key in zip(names, keys, strict=True):
            problem = unknown_name(self.variant.settings_model, key.name)
            if problem is not None:
                raise NotASetting(name, f"is not one: {problem}")
        return keys

    def delete_transaction(self, tx: str, guard: Guard | None = None) -> list[str]:
        try:
            if guard is not None:  # a caller may only discard what it could have staged itself
                guard([*self.datastore.get_prefix(SETTINGS, Pending(tx)), *(staged_removals(self.datastore, tx) or [])])
            return sorted(key.name for key in self.datastore.delete_transaction(tx) if key != REMOVALS)
        except DatastoreError as exc:
            raise write_failed("delete_pending", exc) from exc

    def commit(self, tx: str, caller: Caller | None, guard: Guard | None = None) -> list[str]:
        """Commit ``tx`` atomically (its values and staged removals); the snapshot moves to the
        new generation."""
        try:
            changes = pending_changes(self.datastore, tx, self.snapshot.values)
            if changes is None:
                raise CommitWithNoPending()
            if guard is not None:
                guard(changes)
            if not changes:  # only removals, of keys that are already absent
                self.datastore.delete_transaction(tx)
                return []
            commit = self.datastore.commit_changes(changes, tx, caller, drop_transaction=True)
        except DatastoreError as exc:
            raise write_failed("commit", exc) from exc
        self._advance(commit)
        return sorted(key.name for key in changes)

    def commit_changes(self, changes: Mapping[Key, str | None], tx: str, caller: Caller | None) -> list[str]:
        """Commit a computed change-set (a rollback, a revert) as one generation named ``tx``."""
        if not changes:
            return []
        try:
            commit = self.datastore.commit_changes(changes, tx, caller)
        except DatastoreError as exc:
            raise write_failed("commit", exc) from exc
        self._advance(commit)
        return sorted(key.name for key in changes)

    def rollback(self, generation: int, caller: Caller | None) -> list[str]:
        """Commit, as ``thar-rollback-to-G``, the values live had right after ``generation``."""
        return self.commit_changes(
            rollback_changes(self.datastore, generation), f"thar-rollback-to-{generation}", caller
        )

    def revert(self, generation: int, caller: Caller | None) -> list[str]:
        """Commit, as ``thar-confirm-timeout-G``, the undoing of ``generation`` (keys changed again
        since are kept)."""
        changes = revert_changes(self.datastore, self.snapshot.values, generation)
        return self.commit_changes(changes, f"thar-confirm-timeout-{generation}", caller)


def _data_key(name: str) -> Key:
    try:
        return Key(name)
    except InvalidKey as exc:
        raise BadKey("data", name, exc) from None


def _nest(pairs: Mapping[Key, str], prefix: str) -> dict[str, Any]:
    if not pairs:
        return {}
    try:
        return from_map_with_prefix(pairs, prefix)
    except DatastoreError as exc:
        raise SerdeFailed(prefix, exc) from exc


def _check_entries(nested: dict[str, Any], model: type[BaseModel], what: str) -> None:
    for name, value in nested.items():
        try:
            model.model_validate(value)
        except ValidationError as exc:
            raise SerdeFailed(f"{what} '{name}'", str(exc).replace("\n", " ")) from exc


def _metadata_json(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise MetadataNotJson(name, exc) from exc
