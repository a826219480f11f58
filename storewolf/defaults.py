"""Where storewolf's defaults come from, and the version of a new datastore.

Three sources, all giving one TOML table with ``settings``, ``metadata``, ``services`` and
``configuration-files``:

- a merged defaults file, Bottlerocket's ``/etc/storewolf/defaults.toml``;
- a ``defaults.d`` directory, its ``*.toml`` files merged in byte-wise name order
  (``models.variant.merge_defaults``: tables merge, scalars and arrays replace);
- a variant: one of thar's by name (``thar-dev``) or any variant directory. Only then is the
  variant's model known, so only then are the defaults validated before anything is written.

Without a choice, ``$THAR_ROOT/etc/storewolf/defaults.toml`` is used if it exists, else the
directory ``$THAR_ROOT/etc/storewolf/defaults.d/`` (what ``thar-install-units --variant``
installs on a host), validated against the model of the variant that
``$THAR_ROOT/usr/lib/os-release`` names when it is one of thar's, otherwise the ``thar-dev``
variant. ``models`` (and so pydantic) is imported only for a directory or a
variant, which keeps the merged-file path — Bottlerocket's — light.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thar import variants
from thar.datastore import DatastoreError, Version, version_from_os_release
from thar.osrelease import read_os_release
from thar.paths import thar_root

from .errors import DefaultsFormatting, InvalidDefaults, ReadDefaults, VariantUnavailable, VersionUnknown

if TYPE_CHECKING:
    from thar.models.variant import Variant

__all__ = [
    "DEFAULTS_D",
    "DEFAULTS_TOML",
    "OS_RELEASE",
    "Defaults",
    "find_defaults",
    "host_defaults",
    "load_variant_defaults",
    "os_version",
    "read_defaults",
    "read_defaults_dir",
    "read_defaults_file",
    "thar_root",
]

#: Bottlerocket's merged defaults file, below THAR_ROOT.
DEFAULTS_TOML = Path("etc/storewolf/defaults.toml")
#: The defaults.d directory a host's defaults are installed in, below THAR_ROOT.
DEFAULTS_D = Path("etc/storewolf/defaults.d")
#: Where the OS version (VERSION_ID) is read from, below THAR_ROOT.
OS_RELEASE = Path("usr/lib/os-release")


@dataclass
class Defaults:
    """A parsed defaults table, where it was read from, and its variant when known."""

    table: dict[str, Any]
    source: Path
    variant: Variant | None = None

    def problems(self) -> list[str]:
        """Every way the defaults break the variant's model, one line each; [] when the
        variant is unknown (nothing to check against) or everything fits."""
        if self.variant is None:
            return []
        from thar.models.variant import VariantError

        try:
            return self.variant.validate_defaults()
        except VariantError as exc:
            return [str(exc)]
        except (AttributeError, TypeError) as exc:  # a table where the checker expects another shape
            return [f"defaults have an unexpected shape: {exc}"]

    def check(self) -> None:
        """Raise InvalidDefaults listing every problem (see ``problems``)."""
        lines = self.problems()
        if lines:
            assert self.variant is not None
            raise InvalidDefaults(self.variant.name, lines)

    def describe(self) -> str:
        """For the log: ``variant 'thar-dev' (/…/variants/thar-dev)`` or the file's path."""
        if self.variant is not None:
            return f"variant '{self.variant.name}' ({self.source})"
        return str(self.source)


def read_defaults_file(path: str | os.PathLike[str]) -> Defaults:
    """Read and parse a merged defaults file; ReadDefaults or DefaultsFormatting on failure."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ReadDefaults(path, reason) from exc
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefaultsFormatting(path, str(exc)) from exc
    return Defaults(table, path)


def read_defaults_dir(path: str | os.PathLike[str]) -> Defaults:
    """Merge the ``*.toml`` files directly in ``path`` (symlinks followed) in byte-wise name
    order; VariantUnavailable names the file that cannot be read, parsed or merged."""
    from thar.models.variant import VariantError, merge_defaults

    path = Path(path)
    try:
        files = sorted((p for p in path.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name.encode())
        return Defaults(merge_defaults(files), path)
    except VariantError as exc:
        raise VariantUnavailable(str(exc)) from exc
    except OSError as exc:
        raise VariantUnavailable(f"Cannot read defaults directory {path}: {exc.strerror or exc}") from exc


def read_defaults(path: str | os.PathLike[str]) -> Defaults:
    """``--defaults``: a ``defaults.d`` directory or a merged file."""
    return read_defaults_dir(path) if Path(path).is_dir() else read_defaults_file(path)


def load_variant_defaults(name_or_dir: str | os.PathLike[str]) -> Defaults:
    """``--variant``: one of thar's variants by name, else a variant directory."""
    from thar.models.variant import VariantError, load_variant

    text = os.fspath(name_or_dir)
    if text in variants.names():
        directory = variants.path(text)
    elif Path(text).is_dir():
        directory = Path(text)
    else:
        raise VariantUnavailable(
            f"No variant '{text}': it is not a directory, and thar's variants are {', '.join(variants.names())}"
        )
    try:
        variant = load_variant(directory)
    except VariantError as exc:
        raise VariantUnavailable(str(exc)) from exc
    except OSError as exc:
        raise VariantUnavailable(f"Cannot read variant {directory}: {exc.strerror or exc}") from exc
    return Defaults(variant.defaults, directory, variant)


def find_defaults(root: Path) -> Defaults:
    """Neither flag given: ``root/etc/storewolf/defaults.toml`` if it exists, else the directory
    ``root/etc/storewolf/defaults.d/`` (see ``host_defaults``), else ``thar-dev``."""
    merged = root / DEFAULTS_TOML
    if merged.exists():
        return read_defaults_file(merged)
    if (root / DEFAULTS_D).is_dir():
        return host_defaults(root)
    return load_variant_defaults(variants.DEFAULT_VARIANT)


def host_defaults(root: Path) -> Defaults:
    """``root/etc/storewolf/defaults.d/`` merged; when ``root/usr/lib/os-release`` names one of
    thar's variants (VARIANT_ID), the defaults carry that variant's model, so they are validated
    as ``--variant``'s are (an unknown or missing VARIANT_ID: not validated, as ``--defaults``)."""
    defaults = read_defaults_dir(root / DEFAULTS_D)
    try:
        variant_id = read_os_release(root / OS_RELEASE).get("VARIANT_ID")
    except (OSError, UnicodeDecodeError):
        variant_id = None
    if variant_id not in variants.names():
        return defaults
    known = load_variant_defaults(variant_id).variant
    assert known is not None
    defaults.variant = dataclasses.replace(known, defaults=defaults.table)
    return defaults


def os_version(root: Path, defaults: Defaults) -> Version:
    """VERSION_ID of ``root/usr/lib/os-release``, else of the variant's ``os-release``;
    VersionUnknown when neither exists or holds a valid version."""
    candidates = [root / OS_RELEASE]
    if defaults.variant is not None:
        candidates.append(defaults.variant.directory / "os-release")
    for path in candidates:
        if path.is_file():
            try:
                return version_from_os_release(path)
            except DatastoreError as exc:
                raise VersionUnknown(str(exc)) from exc
    raise VersionUnknown(f"there is no os-release at {' or '.join(map(str, candidates))}")
