"""The errors thar-be-settings raises, one family under `ApplierError`.

```
ApplierError
├── UsageError            bad command line: usage on stderr, exit 2
├── InputError            stdin is not a JSON array of strings
├── ApiError              a request to the API failed, or its answer is not the expected JSON
├── RenderFailed          a configuration file's template failed to render (SpecificKeys mode)
├── RendersFailed         --all: one or more templates failed to render (the rest were written)
├── ModeError             a configuration file's `mode` is not an octal number
├── WriteFailed           a directory or file could not be written
├── ReloadFailed          `systemctl daemon-reload` failed
├── RestartFailed         a restart command exited non-zero or died by a signal
└── RestartSpawnFailed    a restart command could not be started
```

Every message is one line a user can act on; the CLI prints it once on stderr and exits 1
(2 for `UsageError`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ApiError",
    "ApplierError",
    "InputError",
    "ModeError",
    "ReloadFailed",
    "RenderFailed",
    "RendersFailed",
    "RestartFailed",
    "RestartSpawnFailed",
    "UsageError",
    "WriteFailed",
]


class ApplierError(Exception):
    """Base of every thar-be-settings error; `str(exc)` is the message for the user."""


class UsageError(ApplierError):
    """The command line is wrong."""


class InputError(ApplierError):
    """The changed keys on stdin are not a JSON array of strings."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"Input must be a JSON array of strings - input '{raw}' - {reason}")


class ApiError(ApplierError):
    """A request to the API server failed or answered something unexpected."""


class RenderFailed(ApplierError):
    """One configuration file failed to render; nothing was written."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"Configuration file '{name}' failed to render: {reason}")


class RendersFailed(ApplierError):
    """`--all`: these files failed to render and were left untouched; the others were written."""

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = list(failures)
        names = ", ".join(f"'{name}'" for name, _ in self.failures)
        super().__init__(f"{len(self.failures)} configuration file(s) failed to render and were not written: {names}")


class ModeError(ApplierError):
    """A configuration file's `mode` is not octal (`"0600"`, `"600"`, `"+600"`)."""

    def __init__(self, path: str, mode: str) -> None:
        super().__init__(f"Failed to set template {path} to mode {mode}")


class WriteFailed(ApplierError):
    """Creating a configuration file's directory or writing the file failed."""

    def __init__(self, what: str, path: str, error: OSError) -> None:
        reason = error.strerror or str(error)
        super().__init__(f"Failed to write template {what} to disk at {path}: {reason}")


class ReloadFailed(ApplierError):
    """`systemctl daemon-reload` could not be run or failed."""

    def __init__(self, stderr: str) -> None:
        super().__init__(f"Reload command failed - 'systemctl daemon-reload': {stderr}")


class RestartFailed(ApplierError):
    """A restart command exited non-zero (or was killed)."""

    def __init__(self, command: str, stderr: str) -> None:
        self.command = command
        super().__init__(f"Restart command failed - '{command}': {stderr}")


class RestartSpawnFailed(ApplierError):
    """A restart command could not be started (no such program, not executable, empty)."""

    def __init__(self, command: str, error: OSError) -> None:
        self.command = command
        super().__init__(f"Failed to run restart command - '{command}': {error}")
