"""Settings extensions: one module per extension, each mounted at ``settings.<NAME>``.

Every module declares ``NAME`` (the extension's kebab-case key under ``settings``),
``MODEL`` (the type of ``settings.<NAME>``: a ``SettingsStruct``, or a map / scalar type for
the extensions whose value is a map or a string) and ``RUST_TYPES``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

__all__ = ["extension", "extensions", "names"]


def names() -> list[str]:
    """Every extension name (a module ``foo_bar.py`` is the extension ``foo-bar``)."""
    return sorted(info.name.replace("_", "-") for info in pkgutil.iter_modules(__path__))


def extension(name: str) -> Any:
    """The model type of one extension, importing only its module. KeyError if unknown."""
    if name not in names():
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    if name != module.NAME:
        raise KeyError(f"{module.__name__} declares NAME {module.NAME!r}, not {name!r}")
    return module.MODEL


def extensions() -> dict[str, Any]:
    """``{extension name: model type}`` for every extension module (imports them all)."""
    return {name: extension(name) for name in names()}
