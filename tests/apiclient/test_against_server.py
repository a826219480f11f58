"""apiclient as a subprocess against the real apiserver (fixture F0 of the apiserver tests): the verbs
the server has no routes for say so, and JSON is printed as Bottlerocket's apiclient prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.apiserver.conftest import ServerProcess, build_f0

# Committed in an order that is not sorted, at every level.
SETTINGS: dict[str, Any] = {
    "ntp": {"time-servers": ["b.example", "a.example"], "options": ["iburst"]},
    "motd": "caf\u00e9",
    "kernel": {"sysctl": {"vm.max_map_count": "262144", "net.core.somaxconn": "1024"}},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("apiclient-server")
    server = ServerProcess(base=build_f0(root / "datastore"), workdir=root)
    server.start()
    try:
        client = server.client()
        assert client.patch("/settings?tx=order", SETTINGS).status == 204
        assert client.post("/tx/commit?tx=order").status == 200
        yield server
    finally:
        server.stop()


def apiclient(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "THAR_ROOT"}
    return subprocess.run(
        [sys.executable, "-m", "thar.apiclient", "-s", str(server.socket_path), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def keys_in_order(value: Any) -> list[list[str]]:
    """The keys of every object in `value`, in the order they were parsed."""
    found: list[list[str]] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            found.append(list(v))
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return found


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "cis"],
        ["report", "fips", "-f", "json"],
        ["ephemeral-storage", "list-disks"],
        ["ephemeral-storage", "init"],
        ["ephemeral-storage", "bind", "--dirs", "/var/lib/x"],
    ],
)
def test_verbs_without_a_server_side_say_they_are_not_supported(server: ServerProcess, argv: list[str]) -> None:
    done = apiclient(server, *argv)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"'apiclient {argv[0]}' is not supported by thar yet (the server has no /")


def test_get_prints_sorted_keys_with_two_space_indentation_and_a_newline(server: ServerProcess) -> None:
    done = apiclient(server, "get", "settings")
    assert (done.returncode, done.stderr) == (0, "")
    value = json.loads(done.stdout)
    assert value["settings"]["motd"] == "caf\u00e9"
    assert done.stdout == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert all(keys == sorted(keys) for keys in keys_in_order(value))
    assert '\n  "settings": {\n    "kernel": {\n' in done.stdout
    assert "caf\u00e9" in done.stdout


def test_get_uri_prints_sorted_keys(server: ServerProcess) -> None:
    done = apiclient(server, "get", "/settings")
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert done.stdout == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_raw_prints_the_body_as_the_server_sent_it(server: ServerProcess) -> None:
    done = apiclient(server, "raw", "-u", "/settings?keys=settings.motd")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == {"motd": "caf\u00e9"}
    assert done.stdout.endswith("\n") and not done.stdout.endswith("\n\n")
