"""The errors sundog raises, one family under `SundogError`.

```
SundogError
├── ApiFailed              a request to the API failed (generators, settings, PATCH)
├── InvalidGenerators      `GET /metadata/setting-generators` is not a map of key -> generator
├── InvalidGeneratorKey    a generator's key is not a valid data key
├── InvalidCommand         a generator's command is empty or cannot be split into words
├── GeneratorSpawnFailed   a generator could not be started
├── GeneratorTimedOut      a generator ran longer than the timeout
├── GeneratorFailed        a generator exited non-zero (other than 2) or was killed
├── GeneratorOutputInvalid a generator's output is not UTF-8 or not one JSON value
└── TemplateFailed         a templated setting could not be rendered
```

Every message names the setting and the command, so a stalled or failing boot says which
generator to look at; a failing generator's stderr is part of its message.
"""

from __future__ import annotations

__all__ = [
    "ApiFailed",
    "GeneratorFailed",
    "GeneratorOutputInvalid",
    "GeneratorSpawnFailed",
    "GeneratorTimedOut",
    "InvalidCommand",
    "InvalidGeneratorKey",
    "InvalidGenerators",
    "SundogError",
    "TemplateFailed",
]


class SundogError(Exception):
    """Base of every sundog error; `str(exc)` is the message for the user."""


class ApiFailed(SundogError):
    """A request to the API failed."""

    def __init__(self, what: str, cause: Exception) -> None:
        self.cause = cause
        super().__init__(f"Error {what}: {cause}")


class InvalidGenerators(SundogError):
    """The setting generators the API returned are not what sundog can run."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid setting generators from the API: {reason}")


class InvalidGeneratorKey(SundogError):
    """A generator's data key does not parse."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"Invalid setting generator key '{key}': {reason}")


class InvalidCommand(SundogError):
    """A generator's command has no words."""

    def __init__(self, key: str, command: str) -> None:
        self.key = key
        self.command = command
        super().__init__(f"Generator command is invalid for setting '{key}': '{command}'")


class GeneratorSpawnFailed(SundogError):
    """The generator program could not be started (not found, not executable, ...)."""

    def __init__(self, key: str, command: str, error: OSError) -> None:
        self.key = key
        self.command = command
        super().__init__(f"Failed to start generator '{command}' for setting '{key}': {error.strerror or error}")


class GeneratorTimedOut(SundogError):
    """The generator did not finish within the timeout; it has been killed."""

    def __init__(self, key: str, command: str, timeout: float, stderr: str) -> None:
        self.key = key
        self.command = command
        super().__init__(
            f"Timed-out waiting for settings generator '{command}' for setting '{key}' after {timeout:g} s "
            f"(killed; raise --timeout if it needs longer)" + _stderr_part(stderr)
        )


class GeneratorFailed(SundogError):
    """The generator exited with a status other than 0 and 2, or was killed by a signal."""

    def __init__(self, key: str, command: str, returncode: int, stderr: str) -> None:
        self.key = key
        self.command = command
        self.returncode = returncode
        if returncode < 0:
            how = f"was killed by signal {-returncode}"
        elif returncode == 1:
            how = "failed with exit code 1"
        else:
            how = f"returned unexpected exit code '{returncode}'"
        super().__init__(f"Setting generator '{command}' for setting '{key}' {how}" + _stderr_part(stderr))


class GeneratorOutputInvalid(SundogError):
    """The generator's standard output is not UTF-8, or not exactly one JSON value."""

    def __init__(self, key: str, command: str, reason: str, output: str) -> None:
        self.key = key
        self.command = command
        shown = output if len(output) <= 200 else output[:200] + "…"
        super().__init__(
            f"Error deserializing command output as JSON from generator '{command}' for setting '{key}': "
            f"{reason}; output: {shown!r}"
        )


class TemplateFailed(SundogError):
    """A templated setting's template could not be fetched or rendered."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"Failed to render the template of setting '{key}': {reason}")


def _stderr_part(stderr: str) -> str:
    text = stderr.strip()
    return f" - stderr: {text}" if text else " - stderr: (empty)"
