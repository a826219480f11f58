"""host-containers' tests: the real apiserver in a sandbox (tests/early_boot_config/sandbox.py),
``systemctl`` and host-ctr replaced by ``systemctl_standin.py``, and for the container tests the
real containerd and registry of tests/containers.py."""

from __future__ import annotations

from tests.containers import containerd, registry
from tests.early_boot_config.sandbox import make_sandbox

__all__ = ["containerd", "make_sandbox", "registry"]
