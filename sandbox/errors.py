"""The sandbox boot's errors: each message says what failed and what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .steps import Step

__all__ = ["ApiserverFailed", "BootError", "Interrupted", "SandboxError", "SandboxRefused", "StepFailed"]


class BootError(Exception):
    """The sandbox boot cannot go on; the message says what failed and what to do."""


class SandboxError(BootError):
    """The sandbox directory cannot be used (locked, socket path, files)."""


class SandboxRefused(SandboxError):
    """The command line asks for what cannot be booted: an unknown variant, another variant
    than the sandbox's, or the machine's own root (exit status 2)."""


class StepFailed(BootError):
    """A boot step exited non-zero; the message names it and carries its stderr."""

    def __init__(self, step: Step, code: int, stderr: str, stdout: str) -> None:
        self.step = step
        self.code = code
        self.stderr = stderr
        shown = stderr.strip() or stdout.strip() or "(no output)"
        status = f"exit status {code}" if code >= 0 else f"signal {-code}"
        super().__init__(
            f"step '{step.name}' ({step.unit}) failed with {status}:\n"
            + "\n".join(f"    {line}" for line in shown.splitlines())
        )


class ApiserverFailed(BootError):
    """The apiserver exited while the boot needed it."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived during the boot."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
