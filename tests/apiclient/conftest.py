from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apiclient.peer import ApiPeer, HttpFiles, running_peer


@pytest.fixture
def peer() -> Iterator[ApiPeer]:
    """A recording API peer on a fresh Unix socket, answering as spec/apiserver.md does on success."""
    with running_peer() as p:
        yield p


@pytest.fixture
def http_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFiles]:
    """An HTTP server on 127.0.0.1 serving documents for `apiclient apply http://…`."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = HttpFiles()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_thar_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their socket; a THAR_ROOT from the developer's shell must not change defaults."""
    monkeypatch.delenv("THAR_ROOT", raising=False)
