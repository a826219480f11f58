from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.early_boot_config.sandbox import Sandbox, make_sandbox, start_sandbox

__all__ = ["DEFAULTS", "DEFAULT_SETTINGS", "make_sandbox"]

# Minimal defaults: two pending default settings, no generators of the variant's own.
DEFAULTS = """\
[settings]
motd = "default motd"
[settings.updates]
version-lock = "latest"

[metadata.settings.motd]
affected-services = ["motd"]

[services.motd]
configuration-files = ["motd"]
restart-commands = []

[configuration-files.motd]
path = "/etc/motd"
template-path = "/usr/share/templates/motd"
"""
DEFAULT_SETTINGS: dict[str, Any] = {"motd": "default motd", "updates": {"version-lock": "latest"}}

Fresh = Callable[[dict[str, Any]], Sandbox]


@pytest.fixture(autouse=True)
def _no_inherited_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's THAR_ROOT or proxy variables must not change the tests."""
    for name in ("THAR_ROOT", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("EARLY_BOOT_CONFIG_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox (DEFAULTS, nothing live) for a module's tests that set no live values."""
    sandbox = start_sandbox(tmp_path_factory.mktemp("sd"), defaults=DEFAULTS)
    yield sandbox
    code = sandbox.server.stop()
    assert code == 0, sandbox.server.log()


@pytest.fixture
def fresh(shared_sandbox: Sandbox) -> Fresh:
    """``fresh(generators)``: the shared sandbox with exactly these generators and the default
    settings pending."""

    def reset(generators: dict[str, Any]) -> Sandbox:
        shared_sandbox.reset(DEFAULT_SETTINGS, generators)
        return shared_sandbox

    return reset
