"""``/etc/updog.toml``: what thar-be-settings renders from ``settings.updates`` (updates.md §1;
updog's ``main.rs`` ``Config``)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UpdogError

__all__ = ["CONFIG_PATH", "Config", "load_config", "set_proxy_env"]

CONFIG_PATH = "etc/updog.toml"
"""Where updog.toml is, below the root (`thar.paths.thar_root`)."""

MAX_SEED = 2**32 - 1  # the seed is a u32 in updog's config


@dataclass(frozen=True)
class Config:
    """updog.toml's keys; unknown keys are ignored, as serde does."""

    metadata_base_url: str
    targets_base_url: str
    seed: int
    version_lock: str
    ignore_waves: bool
    https_proxy: str | None = None
    no_proxy: tuple[str, ...] | None = None


def _parse(data: dict[str, Any]) -> Config:
    def required(key: str, kind: type, what: str) -> Any:
        if key not in data:
            raise ValueError(f"missing field `{key}`")
        value = data[key]
        # bool is an int in Python: a seed of `true` is as wrong as a string
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"invalid type for `{key}`: expected {what}, found {value!r}")
        return value

    seed = required("seed", int, "a u32")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"invalid value for `seed`: {seed} is not a u32")
    https_proxy = data.get("https_proxy")
    if https_proxy is not None and not isinstance(https_proxy, str):
        raise ValueError(f"invalid type for `https_proxy`: expected a string, found {https_proxy!r}")
    no_proxy = data.get("no_proxy")
    if no_proxy is not None and (not isinstance(no_proxy, list) or not all(isinstance(n, str) for n in no_proxy)):
        raise ValueError(f"invalid type for `no_proxy`: expected a list of strings, found {no_proxy!r}")
    return Config(
        metadata_base_url=required("metadata_base_url", str, "a string"),
        targets_base_url=required("targets_base_url", str, "a string"),
        seed=seed,
        version_lock=required("version_lock", str, "a string"),
        ignore_waves=required("ignore_waves", bool, "a boolean"),
        https_proxy=https_proxy,
        no_proxy=None if no_proxy is None else tuple(no_proxy),
    )


def load_config(path: Path) -> Config:
    """Read and check updog.toml; :class:`UpdogError` with updog's wording otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UpdogError(f"Failed to read config file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        return _parse(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise UpdogError(f"Failed to parse config file {path}: {exc}") from exc


def set_proxy_env(config: Config, environ: os._Environ[str] | dict[str, str] = os.environ) -> None:
    """``HTTPS_PROXY`` from ``https_proxy``, and ``NO_PROXY`` (comma-joined) only when a proxy is set,
    as updog's ``set_https_proxy`` does."""
    if config.https_proxy:
        environ["HTTPS_PROXY"] = config.https_proxy
        if config.no_proxy:
            environ["NO_PROXY"] = ",".join(config.no_proxy)
