"""Where early-boot-config and its providers find things: every default path lies under
`THAR_ROOT` (default `/`), so the same code runs on a host and in a sandbox directory.

| what | default | environment override |
|---|---|---|
| providers directory | `$THAR_ROOT/usr/libexec/early-boot-config/data-providers.d` | |
| local defaults | `$THAR_ROOT/local/user-data-defaults.toml` | `EARLY_BOOT_CONFIG_USER_DATA_DEFAULTS` |
| local user data | `$THAR_ROOT/var/lib/bottlerocket/user-data.toml` | `EARLY_BOOT_CONFIG_USER_DATA` |
| local overrides | `$THAR_ROOT/local/user-data-overrides.toml` | `EARLY_BOOT_CONFIG_USER_DATA_OVERRIDES` |
| identity document | `$THAR_ROOT/etc/early-boot-config/identity-document` | `EARLY_BOOT_CONFIG_IDENTITY_DOCUMENT` |
| IMDS endpoint | `http://169.254.169.254` | `EARLY_BOOT_CONFIG_IMDS_ENDPOINT` |
| IMDS time limit per fetch, retries included | 300 s | `EARLY_BOOT_CONFIG_IMDS_TIMEOUT` |
| first-boot marker | `$THAR_ROOT/var/lib/bottlerocket/early-boot-config.ran` | |

The command's flags set these variables for the providers it starts, so a flag reaches an
executable provider too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from thar.paths import thar_root

__all__ = ["ENV", "Paths", "thar_root"]

ENV: dict[str, str] = {
    "user_data_defaults": "EARLY_BOOT_CONFIG_USER_DATA_DEFAULTS",
    "user_data": "EARLY_BOOT_CONFIG_USER_DATA",
    "user_data_overrides": "EARLY_BOOT_CONFIG_USER_DATA_OVERRIDES",
    "identity_document": "EARLY_BOOT_CONFIG_IDENTITY_DOCUMENT",
    "imds_endpoint": "EARLY_BOOT_CONFIG_IMDS_ENDPOINT",
    "imds_timeout": "EARLY_BOOT_CONFIG_IMDS_TIMEOUT",
}
"""The environment variable of each overridable `Paths` field."""


@dataclass(frozen=True)
class Paths:
    """Every input and output location of early-boot-config."""

    providers_dir: Path
    user_data_defaults: Path
    user_data: Path
    user_data_overrides: Path
    identity_document: Path
    imds_endpoint: str
    marker: Path
    imds_timeout: float = 300.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Paths:
        """The defaults under `THAR_ROOT`, with the overrides of `ENV` applied."""
        env = os.environ if environ is None else environ
        root = thar_root(env)
        paths = cls(
            providers_dir=root / "usr/libexec/early-boot-config/data-providers.d",
            user_data_defaults=root / "local/user-data-defaults.toml",
            user_data=root / "var/lib/bottlerocket/user-data.toml",
            user_data_overrides=root / "local/user-data-overrides.toml",
            identity_document=root / "etc/early-boot-config/identity-document",
            imds_endpoint="http://169.254.169.254",
            marker=root / "var/lib/bottlerocket/early-boot-config.ran",
        )
        changes: dict[str, object] = {}
        for name, variable in ENV.items():
            value = env.get(variable)
            if value:
                changes[name] = _convert(name, variable, value)
        return replace(paths, **changes)  # type: ignore[arg-type]

    def environment(self) -> dict[str, str]:
        """The `ENV` variables that carry these paths to a provider process."""
        return {variable: str(getattr(self, name)) for name, variable in ENV.items()}


def _convert(name: str, variable: str, value: str) -> object:
    if name == "imds_endpoint":
        return value
    if name == "imds_timeout":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{variable} must be a number of seconds, not '{value}'") from None
    return Path(value)
