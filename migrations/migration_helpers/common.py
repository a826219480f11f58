"""The common migrations (Bottlerocket's ``common_migrations``), forward and backward.

Rules shared by all of them: an absent key or metadata is a no-op (a message says so);
comparisons are exact (case, order, length); replacement lists apply in order, each seeing
the result of the one before. A value of the wrong type is left alone, except where a class
says the migration fails (a list holding a non-string, a templated setting that is not a string).
Every helper prints what it did on stdout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import MigrationError
from .data import Migration, MigrationData
from .render import render_schnauzer_cmdline, render_template, template_context
from .variant import Variant, matches

__all__ = [
    "AddMetadataMigration",
    "AddPrefixesMigration",
    "AddSettingsMigration",
    "ListReplacement",
    "MetadataListReplacement",
    "MetadataReplacement",
    "NoOpMigration",
    "RemoveMetadataMigration",
    "RemoveSettingsMigration",
    "ReplaceListsMigration",
    "ReplaceMetadataListsMigration",
    "ReplaceMetadataMigration",
    "ReplaceSchnauzerMigration",
    "ReplaceStringMigration",
    "ReplaceTemplateMigration",
    "SettingMetadata",
    "VariantConditional",
    "running_variant",
]


def _show(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def running_variant(data: MigrationData) -> Variant:
    """The variant of the running image, from the ``os.variant_id`` the data carries."""
    name = data.data.get("os.variant_id")
    if not isinstance(name, str):
        raise MigrationError("The migration data has no os.variant_id; cannot decide a variant condition")
    return Variant.parse(name)


class NoOpMigration(Migration):
    """Changes nothing; the datastore is still copied (for a version that needs no change, or
    a variant a conditional migration does not apply to)."""

    def forward(self, data: MigrationData) -> MigrationData:
        print("NoOpMigration has no work to do on upgrade.")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        print("NoOpMigration has no work to do on downgrade.")
        return data


# -- settings ----------------------------------------------------------------------------------
@dataclass
class AddSettingsMigration(Migration):
    """New settings: nothing to do on upgrade; removed on downgrade so that an older OS never
    sees keys it does not know."""

    settings: Sequence[str]

    def forward(self, data: MigrationData) -> MigrationData:
        print(f"AddSettingsMigration({list(self.settings)}) has no work to do on upgrade.")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        return _remove_settings(data, self.settings)


@dataclass
class RemoveSettingsMigration(Migration):
    """Settings the new version drops: removed on upgrade, nothing to do on downgrade."""

    settings: Sequence[str]

    def forward(self, data: MigrationData) -> MigrationData:
        return _remove_settings(data, self.settings)

    def backward(self, data: MigrationData) -> MigrationData:
        print(f"RemoveSettingsMigration({list(self.settings)}) has no work to do on downgrade.")
        return data


def _remove_settings(data: MigrationData, settings: Sequence[str]) -> MigrationData:
    for setting in settings:
        if setting in data.data:
            print(f"Removed {setting}, which was set to '{_show(data.data.pop(setting))}'")
        else:
            print(f"Found no {setting} to remove")
    return data


@dataclass
class AddPrefixesMigration(Migration):
    """A group of new settings under known prefixes (user-named keys in a map, say): nothing on
    upgrade; on downgrade every key whose *name* starts with a prefix goes (a plain string
    test: ``settings.foo`` also removes ``settings.foobar``)."""

    prefixes: Sequence[str]

    def forward(self, data: MigrationData) -> MigrationData:
        print(f"AddPrefixesMigration({list(self.prefixes)}) has no work to do on upgrade.")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        doomed = [key for key in data.data if any(key.startswith(prefix) for prefix in self.prefixes)]
        for key in doomed:
            print(f"Removed {key}, which was set to '{_show(data.data.pop(key))}'")
        return data


@dataclass
class ReplaceStringMigration(Migration):
    """A string value that changes with the version: ``old_val`` ↔ ``new_val``, only when the
    value is exactly that string (anything else is the user's and is kept)."""

    setting: str
    old_val: str
    new_val: str

    def forward(self, data: MigrationData) -> MigrationData:
        _replace_string(data.data, self.setting, self.old_val, self.new_val, "upgrade")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        _replace_string(data.data, self.setting, self.new_val, self.old_val, "downgrade")
        return data


def _replace_string(values: dict[str, Any], setting: str, out: str, into: str, when: str) -> None:
    if setting not in values:
        print(f"Found no '{setting}' to change on {when}")
        return
    value = values[setting]
    if not isinstance(value, str):
        print(f"'{setting}' is set to non-string value '{_show(value)}'; ReplaceStringMigration only handles strings")
    elif value == out:
        values[setting] = into
        print(f"Changed value of '{setting}' from '{out}' to '{into}' on {when}")
    else:
        print(f"'{setting}' is not set to '{out}', leaving alone")


def _string_list(value: list[Any], what: str) -> list[str]:
    if not all(isinstance(item, str) for item in value):
        raise MigrationError(
            f"{what} holds a non-string element: {_show(value)}; only lists of strings can be replaced"
        )
    return value


@dataclass(frozen=True)
class ListReplacement:
    setting: str
    old_vals: Sequence[str]
    new_vals: Sequence[str]


@dataclass
class ReplaceListsMigration(Migration):
    """Lists of strings that change with the version (a service's configuration files, say):
    replaced only when exactly equal. A list holding a non-string fails the migration."""

    replacements: Sequence[ListReplacement]

    def forward(self, data: MigrationData) -> MigrationData:
        for r in self.replacements:
            _replace_list(data.data, r.setting, r.old_vals, r.new_vals, f"'{r.setting}'", "upgrade")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        for r in self.replacements:
            _replace_list(data.data, r.setting, r.new_vals, r.old_vals, f"'{r.setting}'", "downgrade")
        return data


def _replace_list(
    values: dict[str, Any], name: str, out: Sequence[str], into: Sequence[str], what: str, when: str
) -> None:
    if name not in values:
        print(f"Found no {what} to change on {when}")
        return
    value = values[name]
    if not isinstance(value, list):
        print(f"{what} is set to non-list value '{_show(value)}'; only lists are replaced")
        return
    if _string_list(value, what) == list(out):
        values[name] = list(into)
        print(f"Changed value of {what} from {list(out)} to {list(into)} on {when}")
    else:
        print(f"{what} is not set to {list(out)}, leaving alone")


# -- metadata ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingMetadata:
    setting: str
    metadata: Sequence[str]


@dataclass
class AddMetadataMigration(Migration):
    """New metadata: nothing on upgrade (the new version's defaults have it); removed on
    downgrade, where an older OS could trip over it."""

    settings_metadata: Sequence[SettingMetadata]

    def forward(self, data: MigrationData) -> MigrationData:
        print(f"AddMetadataMigration({[m.setting for m in self.settings_metadata]}) has no work to do on upgrade.")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        return _remove_metadata(data, self.settings_metadata)


@dataclass
class RemoveMetadataMigration(Migration):
    """Metadata the new version drops: removed on upgrade, nothing on downgrade."""

    settings_metadata: Sequence[SettingMetadata]

    def forward(self, data: MigrationData) -> MigrationData:
        return _remove_metadata(data, self.settings_metadata)

    def backward(self, data: MigrationData) -> MigrationData:
        print(f"RemoveMetadataMigration({[m.setting for m in self.settings_metadata]}) has no work to do on downgrade.")
        return data


def _remove_metadata(data: MigrationData, settings_metadata: Sequence[SettingMetadata]) -> MigrationData:
    for entry in settings_metadata:
        found = data.metadata.get(entry.setting)
        if found is None:
            print(f"Found no metadata for '{entry.setting}' setting")
            continue
        for name in entry.metadata:
            if name in found:
                print(f"Removed {name}, which was set to '{_show(found.pop(name))}'")
            else:
                print(f"Found no metadata '{name}' to remove on setting '{entry.setting}'")
    return data


@dataclass(frozen=True)
class MetadataListReplacement:
    setting: str
    metadata: str
    old_vals: Sequence[str]
    new_vals: Sequence[str]


@dataclass
class ReplaceMetadataListsMigration(Migration):
    """ReplaceListsMigration for a metadata value (``affected-services``, say)."""

    replacements: Sequence[MetadataListReplacement]

    def forward(self, data: MigrationData) -> MigrationData:
        for r in self.replacements:
            self._one(data, r, r.old_vals, r.new_vals, "upgrade")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        for r in self.replacements:
            self._one(data, r, r.new_vals, r.old_vals, "downgrade")
        return data

    @staticmethod
    def _one(
        data: MigrationData, r: MetadataListReplacement, out: Sequence[str], into: Sequence[str], when: str
    ) -> None:
        found = data.metadata.get(r.setting)
        if found is None:
            print(f"Found no metadata for '{r.setting}' setting")
            return
        _replace_list(found, r.metadata, out, into, f"metadata '{r.metadata}' of setting '{r.setting}'", when)


@dataclass(frozen=True)
class MetadataReplacement:
    """One string metadata replacement; ``when`` (a variant condition) limits it to some variants."""

    setting: str
    metadata: str
    old_val: str
    new_val: str
    when: Mapping[str, Any] | None = None


@dataclass
class ReplaceMetadataMigration(Migration):
    """String metadata that changes with the version (a ``setting-generator``, say): replaced
    only when exactly equal; a non-string value is left alone."""

    replacements: Sequence[MetadataReplacement]

    def forward(self, data: MigrationData) -> MigrationData:
        for r in self._applicable(data):
            self._one(data, r, r.old_val, r.new_val, "upgrade")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        for r in self._applicable(data):
            self._one(data, r, r.new_val, r.old_val, "downgrade")
        return data

    def _applicable(self, data: MigrationData) -> list[MetadataReplacement]:
        if all(r.when is None for r in self.replacements):
            return list(self.replacements)
        variant = running_variant(data)
        return [r for r in self.replacements if r.when is None or matches(r.when, variant)]

    @staticmethod
    def _one(data: MigrationData, r: MetadataReplacement, out: str, into: str, when: str) -> None:
        found = data.metadata.get(r.setting)
        if found is None:
            print(f"Found no metadata for '{r.setting}' setting")
            return
        if r.metadata not in found:
            print(f"Found no metadata '{r.metadata}' for setting '{r.setting}'")
            return
        value = found[r.metadata]
        if not isinstance(value, str):
            print(f"Metadata '{r.metadata}' of '{r.setting}' is non-string value '{_show(value)}', leaving alone")
        elif value == out:
            found[r.metadata] = into
            print(f"Changed metadata '{r.metadata}' of '{r.setting}' from '{out}' to '{into}' on {when}")
        else:
            print(f"Metadata '{r.metadata}' of '{r.setting}' is not set to '{out}', leaving alone")


# -- generated settings --------------------------------------------------------------------------
def _templated_value(data: MigrationData, setting: str, when: str) -> str | None:
    if setting not in data.data:
        print(f"Found no '{setting}' to change on {when}")
        return None
    value = data.data[setting]
    if not isinstance(value, str):
        raise MigrationError(
            f"'{setting}' is set to non-string value '{_show(value)}'; a generated setting must be a string"
        )
    return value


def _update_generated(
    data: MigrationData,
    setting: str,
    meta_name: str,
    value: str,
    out: str,
    into: str,
    render: Any,
) -> None:
    """Point the metadata at ``into``; if ``out`` renders to the current value (the user has not
    changed it), the value becomes what ``into`` renders."""
    print(f"Changing {meta_name} of '{setting}' from '{out}' to '{into}'")
    data.metadata.setdefault(setting, {})[meta_name] = into
    context = template_context(data.data)
    generated_old = render(out, context)
    if generated_old == value:
        generated_new = render(into, context)
        data.data[setting] = generated_new
        print(f"Changing value of '{setting}' from '{value}' to '{generated_new}'")
    else:
        print(f"'{setting}' is not set to '{generated_old}', leaving alone")


@dataclass
class ReplaceTemplateMigration(Migration):
    """A setting generated from a (schnauzer v1) template whose template changes: the
    ``template`` metadata moves from ``old_template`` to ``new_template``, and the value is
    re-rendered only if it is still what the outgoing template renders (so a value the user
    set is kept). A non-string value fails the migration. Deprecated in Bottlerocket in favour
    of ReplaceSchnauzerMigration; the real history uses it 39 times."""

    setting: str
    old_template: str
    new_template: str

    def forward(self, data: MigrationData) -> MigrationData:
        self._migrate(data, self.old_template, self.new_template, "upgrade")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        self._migrate(data, self.new_template, self.old_template, "downgrade")
        return data

    def _migrate(self, data: MigrationData, out: str, into: str, when: str) -> None:
        value = _templated_value(data, self.setting, when)
        if value is None:
            return
        template = data.metadata.get(self.setting, {}).get("template")
        if not isinstance(template, str):
            print(f"'{self.setting}' has no string 'template' metadata, leaving alone")
        elif template != out:
            print(f"Template for '{self.setting}' is not set to '{out}', leaving alone")
        else:
            _update_generated(data, self.setting, "template", value, out, into, render_template)


@dataclass
class ReplaceSchnauzerMigration(Migration):
    """ReplaceTemplateMigration for settings generated by a ``schnauzer-v2 render …`` command
    line (the ``setting-generator`` metadata)."""

    setting: str
    old_schnauzer_cmdline: str
    new_schnauzer_cmdline: str

    def forward(self, data: MigrationData) -> MigrationData:
        self._migrate(data, self.old_schnauzer_cmdline, self.new_schnauzer_cmdline, "upgrade")
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        self._migrate(data, self.new_schnauzer_cmdline, self.old_schnauzer_cmdline, "downgrade")
        return data

    def _migrate(self, data: MigrationData, out: str, into: str, when: str) -> None:
        value = _templated_value(data, self.setting, when)
        if value is None:
            return
        generator = data.metadata.get(self.setting, {}).get("setting-generator")
        if not isinstance(generator, str) or not generator.strip().startswith("schnauzer-v2"):
            print(f"'{self.setting}' has no schnauzer-v2 'setting-generator' metadata, leaving alone")
        elif generator != out:
            print(f"Generator for '{self.setting}' is not set to '{out}', leaving alone")
        else:
            _update_generated(data, self.setting, "setting-generator", value, out, into, render_schnauzer_cmdline)


# -- variant conditions ---------------------------------------------------------------------------
@dataclass
class VariantConditional(Migration):
    """``then`` on the variants matching ``when``, ``otherwise`` on the rest (default: a no-op).

    ``when`` is a variant condition such as ``{"variant_runtime": "k8s"}`` or
    ``{"not": {"variant_platform": "aws"}}`` (see ``variant.py``), decided from the running
    image's variant."""

    when: Mapping[str, Any]
    then: Migration
    otherwise: Migration = field(default_factory=NoOpMigration)

    def _choose(self, data: MigrationData) -> Migration:
        variant = running_variant(data)
        chosen = self.then if matches(self.when, variant) else self.otherwise
        print(f"Variant {variant.name} {'matches' if chosen is self.then else 'does not match'} {dict(self.when)}")
        return chosen

    def forward(self, data: MigrationData) -> MigrationData:
        return self._choose(data).forward(data)

    def backward(self, data: MigrationData) -> MigrationData:
        return self._choose(data).backward(data)
