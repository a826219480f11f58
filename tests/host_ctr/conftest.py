"""host-ctr's tests run on the real containerd, registry and images of tests/containers.py."""

from __future__ import annotations

from tests.containers import containerd, registry, secure_registry

__all__ = ["containerd", "registry", "secure_registry"]
