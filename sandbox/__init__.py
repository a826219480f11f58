"""thar.sandbox: ``thar-boot``, the sandbox boot that mirrors thar's systemd units (see README.md).

It boots a whole thar host in a sandbox directory, unprivileged: every step of ``units/`` in
its order, each one a process with ``THAR_ROOT=DIR``; the apiserver socket-activated and
watched for ``READY=1``; later steps started ahead and held; a timeline of the boot; as root
with containerd at hand, the host containers on a containerd of its own. Then it serves the API
until SIGINT or SIGTERM.
"""

from __future__ import annotations

from .cli import boot, main
from .errors import BootError, SandboxError, SandboxRefused, StepFailed
from .layout import Sandbox, open_sandbox
from .steps import BOOT_STEPS, Step
from .timeline import StepResult

__all__ = [
    "BOOT_STEPS",
    "BootError",
    "Sandbox",
    "SandboxError",
    "SandboxRefused",
    "Step",
    "StepFailed",
    "StepResult",
    "boot",
    "main",
    "open_sandbox",
]
