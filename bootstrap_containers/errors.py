"""The errors of bootstrap-containers and bootstrap-commands, one family under `BootstrapError`.

```
BootstrapError
├── ConfigError               the rendered config file cannot be read, is not TOML or not the expected shape
├── ContainerFailed           one bootstrap container could not be handled (missing source, bad user data, …)
├── ManageContainersFailed    create-containers: some containers failed (each one was logged)
├── CommandFailed             a program (systemctl, host-ctr) could not be run or exited non-zero
├── MarkFailed                mark-bootstrap / a once-mode entry: turning it off through the API failed
└── BootstrapCommandFailed    bootstrap-commands: an essential entry failed
```

Every message is one line naming what failed; the programs print it on stderr and exit 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "BootstrapCommandFailed",
    "BootstrapError",
    "CommandFailed",
    "ConfigError",
    "ContainerFailed",
    "ManageContainersFailed",
    "MarkFailed",
]


class BootstrapError(Exception):
    """Base of every error bootstrap-containers and bootstrap-commands report before exiting 1."""


class ConfigError(BootstrapError):
    """The rendered config file could not be used."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"Failed to read settings from config at {path}: {reason}")


class ContainerFailed(BootstrapError):
    """One bootstrap container could not be handled; create-containers logs it with the
    container's name and goes on with the others."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        super().__init__(reason)


class ManageContainersFailed(BootstrapError):
    def __init__(self, failed: int, tried: int) -> None:
        self.failed, self.tried = failed, tried
        super().__init__(f"Failed to manage {failed} of {tried} bootstrap containers")


class CommandFailed(BootstrapError):
    """A program could not be started, or exited non-zero; the message quotes its stderr."""

    def __init__(self, argv: Sequence[str], reason: str) -> None:
        self.argv = list(argv)
        super().__init__(f"'{' '.join(argv)}' failed - {reason}")


class MarkFailed(BootstrapError):
    """Setting an entry's mode to off through the API failed."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"Failed to set {key}=off: {reason}")


class BootstrapCommandFailed(BootstrapError):
    """An essential bootstrap command entry failed; ``reason`` names the command line."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason
        super().__init__(f"Bootstrap command '{name}' failed: {reason}")
