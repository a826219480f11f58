"""Where a template's render context comes from (spec/schnauzer.md §3).

`ApiImporter` asks the API server (``GET /`` on its Unix socket) once per process and socket,
and gives each template only what it declared::

    {"settings": {ext: settings[ext] for each required extension that has settings},
     "os": <the whole os object>}

Settings of extensions the template did not list are invisible (a strict-mode error if used);
nothing else of the model (``services``, ``configuration-files``) is visible. Unset settings are
absent keys, exactly as the API returns them.

`StaticImporter` hands out a fixed context verbatim, for tests and tools.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from thar.apiclient import ApiClientError, default_socket_path
from thar.apiclient.get import get_json
from thar.schnauzer.errors import RetrieveSettings
from thar.schnauzer.template import Requirement

__all__ = [
    "ApiImporter",
    "Importer",
    "StaticImporter",
    "clear_api_cache",
    "extract_object",
    "fetch_api_root",
    "minimize_settings",
]

log = logging.getLogger("schnauzer")


class Importer(Protocol):
    """Something that supplies the render context for a template's requirements."""

    def fetch_context(self, requirements: Iterable[Requirement]) -> Any: ...


def extract_object(response: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``response[key]``, which must be a JSON object; else `RetrieveSettings`."""
    if key not in response:
        raise RetrieveSettings(f"malformed API response: it has no '{key}' key")
    value = response[key]
    if not isinstance(value, dict):
        raise RetrieveSettings(f"received a non-JSON object for API key '{key}'")
    return value


def minimize_settings(all_settings: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Only the settings of the extensions ``names`` that exist in ``all_settings``."""
    return {name: all_settings[name] for name in names if name in all_settings}


_cache: dict[str, dict[str, Any]] = {}
_cache_lock = threading.Lock()


def fetch_api_root(socket_path: str) -> dict[str, Any]:
    """The API's whole model (``GET /``), fetched once per process and socket path."""
    with _cache_lock:
        cached = _cache.get(socket_path)
        if cached is not None:
            return cached
        log.debug("GETing / from %s", socket_path)
        try:
            model = get_json(socket_path, "/")
        except ApiClientError as exc:
            raise RetrieveSettings(f"GET / failed: {exc}") from exc
        if not isinstance(model, dict):
            raise RetrieveSettings("the response to GET / is not a JSON object")
        _cache[socket_path] = model
        return model


def clear_api_cache() -> None:
    """Forget the fetched models (the next render asks the API again)."""
    with _cache_lock:
        _cache.clear()


class ApiImporter:
    """The production importer: settings and os from the API server on ``socket_path``
    (default ``/run/api.sock``, or ``$THAR_ROOT/run/api.sock`` when THAR_ROOT is set)."""

    def __init__(self, socket_path: str | os.PathLike[str] | None = None) -> None:
        self.socket_path = os.fspath(socket_path) if socket_path is not None else default_socket_path()

    def model(self) -> dict[str, Any]:
        """The whole ``GET /`` model (settings, os, services, configuration-files)."""
        return fetch_api_root(self.socket_path)

    def fetch_context(self, requirements: Iterable[Requirement]) -> dict[str, Any]:
        model = self.model()
        settings = extract_object(model, "settings")
        os_info = extract_object(model, "os")
        return {"settings": minimize_settings(settings, (r.name for r in requirements)), "os": os_info}


class StaticImporter:
    """A fixed render context, used verbatim: no ``os`` is added and nothing is minimised."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def fetch_context(self, requirements: Iterable[Requirement]) -> Any:
        return self.context
