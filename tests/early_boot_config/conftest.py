from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.early_boot_config.fake_imds import FakeImds, running_imds
from tests.early_boot_config.sandbox import Sandbox, make_sandbox, start_sandbox

__all__ = ["make_sandbox"]


@pytest.fixture(autouse=True)
def _no_inherited_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's THAR_ROOT, proxy or early-boot-config variables must not change the tests."""
    for name in ("THAR_ROOT", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("EARLY_BOOT_CONFIG_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    """A fake IMDS on 127.0.0.1 with nothing in it (tests fill ``imds.documents``)."""
    with running_imds() as fake:
        yield fake


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Any]]:
    """One thar-dev sandbox (storewolf's defaults pending) shared by a module's tests."""
    sandbox = start_sandbox(tmp_path_factory.mktemp("ebc"))
    baseline = sandbox.pending()
    yield sandbox, baseline
    code = sandbox.server.stop()
    assert code == 0, sandbox.server.log()


@pytest.fixture
def fresh(shared_sandbox: tuple[Sandbox, Any]) -> Sandbox:
    """The shared thar-dev sandbox as after storewolf: defaults pending, no user data, no marker."""
    sandbox, baseline = shared_sandbox
    sandbox.reset(baseline)
    for path in (sandbox.user_data, sandbox.root / "local/user-data-defaults.toml",
                 sandbox.root / "local/user-data-overrides.toml"):  # fmt: skip
        path.unlink(missing_ok=True)
    return sandbox
