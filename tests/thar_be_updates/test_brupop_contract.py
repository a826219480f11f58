"""The contract of Bottlerocket's update operator (brupop's agent, ``agent/src/apiclient.rs``;
spec/updates.md §10.3): it runs the host's ``apiclient raw -u URI [-m POST]`` and parses what
apiclient prints. Driven here the same way, through the real apiserver, dispatcher and the updog
stand-in; each fact brupop relies on is its own test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import System, UpdatesServer, updates_server

# brupop parses versions with the semver crate: MAJOR.MINOR.PATCH, no leading zeros or "v"
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
# brupop's enum of most_recent_command.cmd_type (it has no `deactivate`)
BRUPOP_COMMAND_TYPES = {"refresh", "prepare", "activate"}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system: System) -> Iterator[UpdatesServer]:
    with updates_server(tmp_path, monkeypatch, system) as server:
        yield server


def raw(server: UpdatesServer, uri: str, method: str | None = None) -> subprocess.CompletedProcess[str]:
    """``apiclient raw -u URI [-m METHOD]``, as brupop's agent runs it."""
    argv = [sys.executable, "-m", "thar.apiclient", "-s", str(server.socket_path), "raw", "-u", uri]
    if method is not None:
        argv += ["-m", method]
    return subprocess.run(argv, capture_output=True, text=True, env=server.system.env(), timeout=60, check=False)


def post(server: UpdatesServer, uri: str) -> None:
    done = raw(server, uri, "POST")
    assert (done.returncode, done.stdout) == (0, ""), done.stderr


def status(server: UpdatesServer, timeout: float = 20.0) -> Any:
    """``raw -u /updates/status`` until the command finished (brupop retries a 423 the same way)."""
    deadline = time.monotonic() + timeout
    while True:
        done = raw(server, "/updates/status")
        if done.returncode == 0:
            return json.loads(done.stdout)
        assert "Status 423 when GETing /updates/status" in done.stderr, done.stderr
        assert time.monotonic() < deadline, "the update command did not finish"
        time.sleep(0.05)


def refreshed(server: UpdatesServer) -> Any:
    post(server, "/actions/refresh-updates")
    return status(server)


def test_os_version_id_is_semver(server: UpdatesServer) -> None:
    done = raw(server, "/os")
    assert done.returncode == 0, done.stderr
    assert SEMVER.fullmatch(json.loads(done.stdout)["version_id"])


def test_refresh_then_status_has_a_successful_refresh(server: UpdatesServer) -> None:
    command = refreshed(server)["most_recent_command"]
    assert (command["cmd_type"], command["cmd_status"]) == ("refresh", "Success")


def test_exit_status_is_an_integer_never_null(server: UpdatesServer) -> None:
    exit_status = refreshed(server)["most_recent_command"]["exit_status"]
    assert type(exit_status) is int
    assert exit_status == 0


def test_failed_command_exit_status_is_an_integer(server: UpdatesServer) -> None:
    (server.system.repo / "manifest.json").unlink()  # updog fails: no manifest
    command = refreshed(server)["most_recent_command"]
    assert command["cmd_status"] == "Failed"
    assert type(command["exit_status"]) is int
    assert command["exit_status"] != 0


def test_available_updates_are_strict_semver_strings(server: UpdatesServer) -> None:
    available = refreshed(server)["available_updates"]
    assert available
    for version in available:
        assert isinstance(version, str)
        assert SEMVER.fullmatch(version), version


def test_chosen_update_names_the_version_to_prepare(server: UpdatesServer) -> None:
    chosen = refreshed(server)["chosen_update"]
    assert SEMVER.fullmatch(chosen["version"])
    assert chosen["version"] == "1.21.0"
    assert {"arch", "variant"} <= set(chosen)


def test_prepare_when_available_stages(server: UpdatesServer) -> None:
    assert refreshed(server)["update_state"] == "Available"
    post(server, "/actions/prepare-update")
    after = status(server)
    assert after["update_state"] == "Staged"
    assert (after["most_recent_command"]["cmd_type"], after["most_recent_command"]["cmd_status"]) == (
        "prepare",
        "Success",
    )


def test_prepare_when_staged_stays_staged(server: UpdatesServer) -> None:
    refreshed(server)
    post(server, "/actions/prepare-update")
    assert status(server)["update_state"] == "Staged"
    post(server, "/actions/prepare-update")  # brupop prepares again when it finds Staged
    after = status(server)
    assert after["update_state"] == "Staged"
    assert after["most_recent_command"]["cmd_status"] == "Success"


def test_activate_when_staged_is_ready(server: UpdatesServer) -> None:
    refreshed(server)
    post(server, "/actions/prepare-update")
    status(server)
    post(server, "/actions/activate-update")
    after = status(server)
    assert after["update_state"] == "Ready"
    assert after["most_recent_command"]["cmd_type"] == "activate"


def test_reboot_when_ready_runs_the_reboot(server: UpdatesServer) -> None:
    refreshed(server)
    for action in ("prepare-update", "activate-update"):
        post(server, f"/actions/{action}")
        status(server)
    assert status(server)["update_state"] == "Ready"
    post(server, "/actions/reboot")
    assert server.system.reboots.read_text() == "reboot \n"


def test_423_is_recognisable_from_apiclient_stderr(server: UpdatesServer) -> None:
    server.system.control(calls=str(server.system.calls), sleep=1.5)  # updog holds the lock a while
    post(server, "/actions/refresh-updates")
    done = raw(server, "/actions/refresh-updates", "POST")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "Failed POST request to '/actions/refresh-updates': Status 423 when POSTing /actions/refresh-updates: "
        "Update lock held\n"
    )
    # brupop's agent takes the code as the word after "Status"
    assert done.stderr.split("Status")[1].split(" ")[1] == "423"
    server.system.wait_idle()


def test_status_before_any_command_is_not_a_status(server: UpdatesServer) -> None:
    done = raw(server, "/updates/status")
    assert (done.returncode, done.stdout) == (1, "")
    assert "Status 404 when GETing /updates/status: Update status is uninitialized" in done.stderr


def test_status_created_by_a_refused_command_has_no_most_recent_command(server: UpdatesServer) -> None:
    # QUIRK (upstream): a refused command creates the status without running anything; brupop
    # cannot parse a null most_recent_command, which is why it always refreshes first
    done = raw(server, "/actions/activate-update", "POST")
    assert done.returncode == 1
    assert "Status 409 when POSTing /actions/activate-update" in done.stderr
    assert status(server)["most_recent_command"] is None


def test_after_deactivate_cmd_type_is_deactivate(server: UpdatesServer) -> None:
    refreshed(server)
    for action in ("prepare-update", "activate-update", "deactivate-update"):
        post(server, f"/actions/{action}")
        status(server)
    command = status(server)["most_recent_command"]
    assert (command["cmd_type"], command["cmd_status"]) == ("deactivate", "Success")
    # QUIRK (upstream, kept): brupop's enum of command types lacks `deactivate`, so brupop fails to
    # parse a status read after a deactivate (an `apiclient update cancel`) until the next command
    assert command["cmd_type"] not in BRUPOP_COMMAND_TYPES
    assert {"refresh", "prepare", "activate", "deactivate"} - BRUPOP_COMMAND_TYPES == {"deactivate"}


def test_cmd_type_is_one_of_the_four_commands(server: UpdatesServer) -> None:
    seen = [refreshed(server)["most_recent_command"]["cmd_type"]]
    for action in ("prepare-update", "activate-update", "deactivate-update"):
        post(server, f"/actions/{action}")
        seen.append(status(server)["most_recent_command"]["cmd_type"])
    assert seen == ["refresh", "prepare", "activate", "deactivate"]
