"""The errors host-containers raises, one family under `HostContainersError`.

```
HostContainersError
├── ApiFailed               reading settings.host-containers from the API failed
├── InvalidSettings         the API's answer is not a map of name -> host container settings
├── MissingField            a host container has no source
├── UserDataInvalid         a host container's user-data is not base64
├── StorageFailed           the persistent directory or the user-data file could not be written
├── EnvFileFailed           the unit's environment file could not be written
├── CommandFailed           systemctl or host-ctr could not be run or exited non-zero
└── ManageContainersFailed  at least one host container could not be handled (the run's result)
```

Messages follow Bottlerocket's (core-kit ``sources/api/host-containers/src/main.rs``) and name
the container, the path or the command.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ApiFailed",
    "CommandFailed",
    "EnvFileFailed",
    "HostContainersError",
    "InvalidSettings",
    "ManageContainersFailed",
    "MissingField",
    "StorageFailed",
    "UserDataInvalid",
]


class HostContainersError(Exception):
    """Base of every host-containers error; `str(exc)` is the message for the user."""


class ApiFailed(HostContainersError):
    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(f"Failed to read settings.host-containers from the API: {cause}")


class InvalidSettings(HostContainersError):
    def __init__(self, what: str) -> None:
        super().__init__(f"settings.host-containers from the API is not usable: {what}")


class MissingField(HostContainersError):
    def __init__(self, name: str, field: str) -> None:
        self.name, self.field = name, field
        super().__init__(f"Host containers '{name}' missing field '{field}'")


class UserDataInvalid(HostContainersError):
    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        super().__init__(f"Unable to base64 decode user-data for container '{name}': '{reason}'")


class StorageFailed(HostContainersError):
    def __init__(self, name: str, path: Path, cause: OSError) -> None:
        self.name, self.path = name, path
        super().__init__(
            f"Failed to write the persistent storage of host container '{name}' at {path}: {cause.strerror or cause}"
        )


class EnvFileFailed(HostContainersError):
    def __init__(self, path: Path, cause: OSError) -> None:
        self.path = path
        super().__init__(f"Failed to write EnvironmentFile to {path}: {cause.strerror or cause}")


class CommandFailed(HostContainersError):
    def __init__(self, command: str, detail: str) -> None:
        self.command = command
        super().__init__(f"'{command}' failed - {detail}")


class ManageContainersFailed(HostContainersError):
    def __init__(self, failed: int, tried: int) -> None:
        self.failed, self.tried = failed, tried
        super().__init__(f"Failed to manage {failed} of {tried} host containers")
