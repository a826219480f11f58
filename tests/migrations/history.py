"""Bottlerocket's real migration history as thar migrations, built from the conformance table.

Every entry of ``bottlerocket-migrations.json`` becomes a migration: the common helpers and the
variant conditions through ``migration_helpers.build``; the twelve ``custom`` ones (whose code
is Bottlerocket's own) are implemented below from the table's description of them. The replay
test writes one executable per entry that calls ``entry_migration``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from thar.migrations.errors import MigrationError
from thar.migrations.migration_helpers import Migration, MigrationData, ReplaceStringMigration, build

TABLE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "bottlerocket-migrations.json"
_REGISTRY_CHARS = re.compile(r"[A-Za-z0-9_/.\-]+")


def load_table() -> dict[str, Any]:
    return json.loads(TABLE.read_text())  # type: ignore[no-any-return]


class _Custom(Migration):
    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.details: Mapping[str, Any] = entry.get("details", {})

    def forward(self, data: MigrationData) -> MigrationData:
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        return data


class RemoveMatching(_Custom):
    """add-user-data, kernel-modules-autoload-settings: backward removes keys by start and end."""

    def backward(self, data: MigrationData) -> MigrationData:
        rule = self.details["backward"]["remove_keys_matching"]
        for key in [k for k in data.data if k.startswith(rule["starts_with"]) and k.endswith(rule["ends_with"])]:
            del data.data[key]
        return data


class StringMapping(_Custom):
    """shared-containerd-configs: the first (from, to) pair matching the value wins."""

    def _map(self, data: MigrationData, pairs: list[tuple[str, str]]) -> MigrationData:
        setting = self.details["setting"]
        value = data.data.get(setting)
        if isinstance(value, str):
            for old, new in pairs:
                if value == old:
                    data.data[setting] = new
                    break
        return data

    def forward(self, data: MigrationData) -> MigrationData:
        return self._map(data, [(a, b) for a, b in self.details["pairs"]])

    def backward(self, data: MigrationData) -> MigrationData:
        return self._map(data, [(b, a) for a, b in self.details["pairs"]])


class SchnauzerPaws(_Custom):
    """schnauzer-paws: setting-generator pluto ↔ schnauzer; the template metadata set or removed."""

    def forward(self, data: MigrationData) -> MigrationData:
        meta = data.metadata.get(self.details["setting"])
        if meta is not None and meta.get("setting-generator") == self.details["old_setting_generator"]:
            meta["setting-generator"] = self.details["new_setting_generator"]
            meta["template"] = self.details["template"]
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        meta = data.metadata.get(self.details["setting"])
        if meta is not None and meta.get("setting-generator") == self.details["new_setting_generator"]:
            meta["setting-generator"] = self.details["old_setting_generator"]
            meta.pop("template", None)
        return data


class DeleteHostFile(_Custom):
    """kubelet-cpu-manager-state: backward deletes a host file (below THAR_ROOT)."""

    def backward(self, data: MigrationData) -> MigrationData:
        path = Path(os.environ.get("THAR_ROOT") or "/") / self.details["backward"]["delete_host_file"].lstrip("/")
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise MigrationError(f"Cannot delete {path}: {exc}") from exc
        return data


class RegistryMirrors(_Custom):
    """registry-mirror-representation: mirrors."<registry>" keys ↔ a list of {registry, endpoint}."""

    SETTING = "settings.container-registry.mirrors"

    def forward(self, data: MigrationData) -> MigrationData:
        prefix = self.SETTING + "."
        mirrors = []
        for key in sorted(k for k in data.data if k.startswith(prefix)):
            mirrors.append({"registry": key[len(prefix) :].strip('"'), "endpoint": data.data.pop(key)})
        data.data[self.SETTING] = mirrors  # always, even [] (the historical rule breaker)
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        value = data.data.get(self.SETTING)
        if not isinstance(value, list):
            return data
        del data.data[self.SETTING]
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("registry"), str) and "endpoint" in item:
                registry = item["registry"]
                if _REGISTRY_CHARS.fullmatch(registry):
                    data.data[f'{self.SETTING}."{registry}"'] = item["endpoint"]
        return data


class HostContainerTags(_Custom):
    """vmware-host-containers: forward bumps exact public image tags."""

    def forward(self, data: MigrationData) -> MigrationData:
        for which in ("admin", "control"):
            spec = self.details[which]
            olds = {f"{spec['repository']}:{v}" for v in spec["from_versions"]}
            if data.data.get(spec["setting"]) in olds:
                data.data[spec["setting"]] = f"{spec['repository']}:{spec['to_version']}"
        return data


class NodeTaints(_Custom):
    """node-taints-representation: a string taint ↔ a one-element list."""

    def forward(self, data: MigrationData) -> MigrationData:
        for key, value in list(data.data.items()):
            if key.startswith(self.details["prefix"]) and isinstance(value, str):
                data.data[key] = [value]
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        for key, value in list(data.data.items()):
            if key.startswith(self.details["prefix"]) and isinstance(value, list):
                if not value or not isinstance(value[0], str):
                    raise MigrationError(f"Taint {key} = {value!r} has no string to go back to")
                data.data[key] = value[0]
        return data


class ClusterDnsIp(_Custom):
    """cluster-dns-ip-list: backward keeps a string, takes a list's first string, drops the rest."""

    def backward(self, data: MigrationData) -> MigrationData:
        setting = self.details["setting"]
        if setting not in data.data:
            return data
        value = data.data[setting]
        if isinstance(value, str):
            return data
        if isinstance(value, list) and value and isinstance(value[0], str):
            data.data[setting] = value[0]
        else:
            del data.data[setting]
        return data


class NumberToString(_Custom):
    """kubernetes-gc-percent-type-change: backward turns a number into its JSON text."""

    def backward(self, data: MigrationData) -> MigrationData:
        for setting in self.details["settings"]:
            value = data.data.get(setting)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                data.data[setting] = json.dumps(value)
        return data


class MaxOpenFiles(_Custom):
    """oci-defaults-max-open-files: backward maps an i64 limit onto a u32."""

    def backward(self, data: MigrationData) -> MigrationData:
        for setting in self.details["settings"]:
            value = data.data.get(setting)
            if isinstance(value, int) and not isinstance(value, bool):
                data.data[setting] = 4294967295 if value == -1 or value > 4294967295 else value % 2**32
        return data


CUSTOM: dict[str, Callable[[Mapping[str, Any]], Migration]] = {
    "add-user-data": RemoveMatching,
    "kernel-modules-autoload-settings": RemoveMatching,
    "shared-containerd-configs": StringMapping,
    "schnauzer-paws": SchnauzerPaws,
    "kubelet-cpu-manager-state": DeleteHostFile,
    "registry-mirror-representation": RegistryMirrors,
    "vmware-host-containers": HostContainerTags,
    "node-taints-representation": NodeTaints,
    "cluster-dns-ip-list": ClusterDnsIp,
    "kubernetes-gc-percent-type-change": NumberToString,
    "oci-defaults-max-open-files": MaxOpenFiles,
}


def _custom(spec: Mapping[str, Any]) -> Migration:
    if "equivalent_to" in spec:  # k8s-private-pki-path
        args = spec["equivalent_to"]["args"]
        return ReplaceStringMigration(args["setting"], args["old_val"], args["new_val"])
    return CUSTOM[spec["name"]](spec)


def entry_migration(entry: Mapping[str, Any]) -> Migration:
    """The migration of one history entry (as the table holds it)."""
    spec = dict(entry)
    if entry["helper"] == "VariantConditional":
        # a custom branch carries the entry's name for the builder
        for branch in ("then", "otherwise"):
            spec["args"] = {**spec["args"], branch: {"name": entry["name"], **entry["args"][branch]}}
    return build(spec, _custom)
