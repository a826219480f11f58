"""Variants: a name, a set of settings extensions, merged defaults, templates and os-release.

A variant directory is Bottlerocket's format, unchanged::

    <variant>/defaults.d/NN-topic.toml   merged in byte-wise file-name order
    <variant>/templates/                 configuration templates (optional)
    <variant>/os-release                 (optional)
    <variant>/variant.toml               thar's addition (optional): name, extensions, description

Without ``variant.toml`` the extension set comes from the variant's name, by Bottlerocket's
families (``aws-k8s-1.31`` has kubernetes, ``aws-ecs-2`` has ecs, …; spec §4).

Merging: tables merge key by key, scalars and arrays replace, and a value whose TOML type
differs from the one it replaces is an error (as ``bottlerocket-defaults-helper``).
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, create_model

from .api import ConfigurationFile, MetadataValue, Os, Service
from .base import SettingsStruct
from .errors import ModelError, format_errors
from .settings import extension
from .settings import names as extension_names

__all__ = [
    "Variant",
    "VariantError",
    "api_model",
    "extensions_for_family",
    "load_variant",
    "merge_defaults",
    "settings_model",
]

BASE_EXTENSIONS = (
    "motd", "updates", "host-containers", "bootstrap-commands", "bootstrap-containers", "ntp", "network",
    "kernel", "metrics", "pki", "container-registry", "oci-hooks", "dns",
)  # fmt: skip
K8S = ("kubernetes", "container-runtime")
# (name pattern, extensions beyond BASE_EXTENSIONS), first match wins; spec §4.
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"aws-k8s-.*-nvidia", ("boot", "aws", "cloudformation", "autoscaling", "oci-defaults", *K8S,
                            "nvidia-container-runtime", "kubelet-device-plugins")),
    (r"aws-k8s-.*", ("boot", "aws", "cloudformation", "autoscaling", "oci-defaults", *K8S)),
    (r"aws-ecs-1(-nvidia)?", ("aws", "cloudformation", "ecs", "autoscaling", "oci-defaults")),
    (r"aws-ecs-.*", ("boot", "aws", "cloudformation", "ecs", "autoscaling", "oci-defaults")),
    (r"aws-dev", ("boot", "aws", "cloudformation")),
    (r"(metal|vmware)-dev", ("boot",)),
    (r"(metal|vmware)-k8s-.*", ("boot", "aws", "oci-defaults", *K8S)),
)  # fmt: skip


class VariantError(Exception):
    """A variant directory cannot be loaded (unreadable, bad TOML, merge conflict, unknown
    extension), or its defaults do not fit its model."""


def extensions_for_family(name: str) -> tuple[str, ...]:
    """The extensions of a Bottlerocket variant, from its name (spec §4)."""
    for pattern, extra in FAMILIES:
        if re.fullmatch(pattern, name):
            return (*BASE_EXTENSIONS, *extra)
    raise VariantError(
        f"Unknown variant family '{name}': add a variant.toml with `extensions = [...]` to its directory"
    )


def merge_defaults(files: Iterable[Path]) -> dict[str, Any]:
    """Deep-merge TOML files in the given order; later files win (see the module docstring)."""
    merged: dict[str, Any] = {}
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise VariantError(f"{path} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise VariantError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        _merge(merged, data, path, ())
    return merged


def _merge(left: dict[str, Any], right: Mapping[str, Any], path: Path, at: tuple[str, ...]) -> None:
    for name, value in right.items():
        here = (*at, name)
        if name not in left:
            left[name] = value
        elif isinstance(left[name], dict) and isinstance(value, dict):
            _merge(left[name], value, path, here)
        elif _toml_kind(left[name]) != _toml_kind(value):
            raise VariantError(
                f"Cannot merge mismatched data types at {'.'.join(here)} in {path}: "
                f"{_toml_kind(left[name])} then {_toml_kind(value)}"
            )
        else:
            left[name] = value


def _toml_kind(value: Any) -> str:
    for kind, types in (("table", dict), ("array", list), ("boolean", bool), ("integer", int), ("float", float),
                        ("string", str)):  # fmt: skip
        if isinstance(value, types):
            return kind
    return type(value).__name__


@functools.lru_cache(maxsize=64)
def settings_model(extensions: tuple[str, ...]) -> type[SettingsStruct]:
    """The ``settings`` model holding exactly these extensions (cached per set)."""
    known = extension_names()
    unknown = [name for name in extensions if name not in known]
    if unknown:
        raise VariantError(f"Unknown settings extension(s): {', '.join(unknown)} (known: {', '.join(known)})")
    fields: dict[str, Any] = {  # only this variant's extension modules are imported
        name.replace("-", "_"): (extension(name) | None, Field(default=None, alias=name)) for name in sorted(extensions)
    }
    return create_model("Settings", __base__=SettingsStruct, **fields)


@functools.lru_cache(maxsize=64)
def api_model(settings: type[SettingsStruct]) -> type[SettingsStruct]:
    """The whole API model around a ``settings`` model (see ``Variant.api_model``)."""
    fields: dict[str, Any] = {
        "settings": (settings | None, None),
        "services": (dict[str, Service] | None, None),
        "configuration_files": (dict[str, ConfigurationFile] | None, None),
        "os": (Os | None, None),
    }
    return create_model("Model", __base__=SettingsStruct, **fields)


@dataclass
class Variant:
    """A loaded variant. ``defaults`` is the merged ``defaults.d`` table."""

    name: str
    directory: Path
    extensions: tuple[str, ...]
    defaults: dict[str, Any]
    description: str = ""
    os_release: str | None = None
    _model: type[SettingsStruct] | None = field(default=None, repr=False)

    @property
    def templates_dir(self) -> Path:
        return self.directory / "templates"

    @property
    def settings_model(self) -> type[SettingsStruct]:
        """The pydantic model of this variant's ``settings`` object."""
        if self._model is None:
            self._model = settings_model(tuple(sorted(self.extensions)))
        return self._model

    @property
    def api_model(self) -> type[SettingsStruct]:
        """The model of ``GET /``: ``settings``, ``services``, ``configuration-files`` and ``os``
        (each may be left out, as a prefix-filtered response leaves them out)."""
        return api_model(self.settings_model)

    def parse_settings(self, data: Any, root: str = "settings") -> SettingsStruct:
        """Validate a settings object; raise ModelError with one line per problem."""
        model = self.settings_model
        if not isinstance(data, dict):
            raise ModelError([f"{root}: must be an object of settings, not {type(data).__name__}"])
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ModelError(format_errors(exc, root, model)) from None

    def settings_schema(self) -> dict[str, Any]:
        """The JSON Schema of this variant's ``settings`` object."""
        schema: dict[str, Any] = self.settings_model.model_json_schema(by_alias=True)
        schema["title"] = f"{self.name} settings"
        return schema

    def validate_defaults(self) -> list[str]:
        """Every problem with the merged defaults, one line each (empty when all is valid)."""
        problems: list[str] = []
        try:
            self.parse_settings(self.defaults.get("settings", {}))
        except ModelError as exc:
            problems += exc.lines
        problems += _validate_table(self.defaults.get("services", {}), Service, "services")
        problems += _validate_table(self.defaults.get("configuration-files", {}), ConfigurationFile,
                                    "configuration-files")  # fmt: skip
        problems += _validate_metadata(self.defaults.get("metadata", {}), ())
        extra = sorted(set(self.defaults) - {"settings", "services", "configuration-files", "metadata"})
        problems += [f"{name}: unknown top-level table in defaults" for name in extra]
        return problems

    def cross_references(self) -> list[str]:
        """Names that point nowhere: a service's configuration file that is not defined, or an
        ``affected-services`` entry naming no service. Bottlerocket tolerates these."""
        services = self.defaults.get("services", {})
        files = self.defaults.get("configuration-files", {})
        lines = [
            f"services.{name}.configuration-files names undefined file '{f}'"
            for name, service in services.items()
            for f in service.get("configuration-files", [])
            if f not in files
        ]
        for key, names in _affected_services(self.defaults.get("metadata", {}), ()):
            lines += [f"metadata {key}.affected-services names undefined service '{s}'" for s in names
                      if s not in services]  # fmt: skip
        return lines


def _validate_table(table: Any, model: type[BaseModel], root: str) -> list[str]:
    if not isinstance(table, dict):
        return [f"{root}: must be a table"]
    lines: list[str] = []
    for name, value in table.items():
        try:
            model.model_validate(value)
        except ValidationError as exc:
            lines += format_errors(exc, f"{root}.{name}", model)
    return lines


def _validate_metadata(node: Any, at: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    for name, value in node.items():
        here = (*at, name)
        if isinstance(value, dict) and not (name == "setting-generator" and at):
            lines += _validate_metadata(value, here)
            continue
        if len(at) < 1:
            lines.append(f"metadata.{name}: metadata needs a data key and a name")
            continue
        try:
            MetadataValue.model_validate({"name": name, "value": value})
        except ValidationError as exc:
            detail = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            lines.append(f"metadata.{'.'.join(at)}.{name}: {detail}")
    return lines


def _affected_services(node: Any, at: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for name, value in node.items() if isinstance(node, dict) else ():
        if name == "affected-services" and isinstance(value, list):
            found.append((".".join(at), value))
        elif isinstance(value, dict):
            found += _affected_services(value, (*at, name))
    return found


def load_variant(directory: str | Path, name: str | None = None) -> Variant:
    """Load a variant directory (see the module docstring); ``name`` defaults to the
    directory's name or ``variant.toml``'s."""
    directory = Path(directory)
    defaults_dir = directory / "defaults.d"
    if not defaults_dir.is_dir():
        raise VariantError(f"{directory} is not a variant: it has no defaults.d directory")
    info: dict[str, Any] = {}
    if (directory / "variant.toml").is_file():
        info = merge_defaults([directory / "variant.toml"])
    name = name or info.get("name") or directory.name
    extensions = tuple(info["extensions"]) if "extensions" in info else extensions_for_family(name)
    files = sorted((p for p in defaults_dir.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name.encode())
    release = directory / "os-release"
    return Variant(
        name=name,
        directory=directory,
        extensions=extensions,
        defaults=merge_defaults(files),
        description=str(info.get("description", "")),
        os_release=release.read_text(encoding="utf-8") if release.is_file() else None,
    )
