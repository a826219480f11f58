"""`apiclient update check | apply [-c] [-r] | cancel` as a subprocess against the real apiserver,
running the real dispatcher (thar-be-updates) and the updog stand-in (spec/apiclient.md §8)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.thar_be_updates.conftest import OS_RELEASE, System, UpdatesServer, make_system, updates_server
from thar.apiclient.errors import ApiClientError
from thar.apiclient.update import POLICIES, wait_request

PREPARE_FAILED = (
    "Failed to apply update: Failed to prepare update.  This could mean that we don't have a list of updates yet "
    "or that an update is already applied.  Running 'apiclient update check' will help you find out.  You can "
    "cancel an applied ('Ready') update with 'apiclient update cancel' if desired.  Detail: "
)


@pytest.fixture
def system(tmp_path: Path) -> System:
    return make_system(tmp_path / "sys")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system: System) -> Iterator[UpdatesServer]:
    with updates_server(tmp_path, monkeypatch, system) as server:
        yield server


def apiclient(server: UpdatesServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thar.apiclient", "-s", str(server.socket_path), *args],
        capture_output=True,
        text=True,
        env=server.system.env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def state(server: UpdatesServer) -> Any:
    return server.system.status()["update_state"]


def test_check_prints_the_status_with_the_chosen_update(server: UpdatesServer) -> None:
    done = apiclient(server, "update", "check")
    assert done.returncode == 0, done.stderr
    assert "Refreshing updates..." in done.stderr
    status = json.loads(done.stdout)
    assert status["update_state"] == "Available"
    assert status["chosen_update"]["version"] == "1.21.0"
    assert status["most_recent_command"]["cmd_type"] == "refresh"
    assert status["most_recent_command"]["cmd_status"] == "Success"
    assert done.stdout == json.dumps(status, indent=2, sort_keys=True) + "\n"  # pretty, as Bottlerocket's


def test_apply_check_with_nothing_to_apply_says_so(server: UpdatesServer) -> None:
    server.system.version_lock("1.20.0")  # the running version: nothing to update to
    done = apiclient(server, "update", "apply", "--check")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["update_state"] == "Idle"
    assert "No updates available." in done.stderr
    assert "Downloading" not in done.stderr
    assert [call[0] for call in server.system.updog_calls() if call[0] == "update-image"] == []


def test_apply_goes_available_staged_ready(server: UpdatesServer) -> None:
    assert apiclient(server, "update", "check").returncode == 0
    assert state(server) == "Available"
    done = apiclient(server, "update", "apply")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = [
        "Downloading and applying update to disk...",
        "Setting the update active so it will apply on the next reboot...",
        "Update has been applied and will take effect on next reboot.",
    ]
    positions = [done.stderr.index(line) for line in lines]
    assert positions == sorted(positions)
    status = server.system.status()
    assert status["update_state"] == "Ready"
    assert status["most_recent_command"]["cmd_type"] == "activate"
    assert status["staging_partition"]["image"]["version"] == "1.21.0"
    assert status["staging_partition"]["next_to_boot"] is True
    assert not server.system.reboots.exists()


def test_apply_check_when_ready_stops_with_already_applied(server: UpdatesServer) -> None:
    assert apiclient(server, "update", "apply", "-c").returncode == 0
    assert state(server) == "Ready"
    done = apiclient(server, "update", "apply", "--check")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["update_state"] == "Ready"
    assert "Update already applied; reboot for it to take effect, or request a cancel." in done.stderr
    assert "Downloading" not in done.stderr


def test_cancel_goes_back_to_staged(server: UpdatesServer) -> None:
    assert apiclient(server, "update", "apply", "--check").returncode == 0
    done = apiclient(server, "update", "cancel")
    assert done.returncode == 0, done.stderr
    assert (done.stdout, "Canceling update..." in done.stderr) == ("", True)
    status = server.system.status()
    assert status["update_state"] == "Staged"
    assert status["most_recent_command"]["cmd_type"] == "deactivate"
    assert status["staging_partition"]["next_to_boot"] is False


def test_apply_reboot_ends_with_the_reboot_action(server: UpdatesServer) -> None:
    done = apiclient(server, "update", "apply", "--check", "--reboot")
    assert done.returncode == 0, done.stderr
    assert state(server) == "Ready"
    assert server.system.reboots.read_text() == "reboot \n"  # the server ran its reboot command once
    assert done.stderr.rstrip().endswith("Rebooting, goodbye...")
    assert "will take effect on next reboot" not in done.stderr


def test_failed_prepare_gives_the_wrapped_error(server: UpdatesServer) -> None:
    assert apiclient(server, "update", "check").returncode == 0
    chosen = server.system.status()["chosen_update"]["version"]
    manifest = json.loads((server.system.repo / "manifest.json").read_text())
    (entry,) = [u for u in manifest["updates"] if u["version"] == chosen]
    root_image = server.system.repo / "targets" / entry["images"]["root"]
    assert root_image.exists()
    root_image.write_bytes(b"\0" * (20 << 20))  # larger than the disk's ROOT partition
    done = apiclient(server, "update", "apply")
    assert done.returncode == 1
    assert done.stdout == ""
    # QUIRK (Bottlerocket's): the exit status in the message is always -1
    recorded = server.system.status()["most_recent_command"]
    assert done.stderr.endswith(
        PREPARE_FAILED + "prepare attempt failed with status 'Failed' (-1): " + recorded["stderr"] + "\n"
    )
    assert "Failed writing update data to disk: No space left on device" in recorded["stderr"]
    assert "Setting the update active" not in done.stderr
    assert server.system.status()["most_recent_command"]["exit_status"] == 1


def test_locked_status_while_polling_is_retried(server: UpdatesServer) -> None:
    server.system.control(calls=str(server.system.calls), sleep=1.5)  # updog holds the lock 1.5 s
    started = time.monotonic()
    done = apiclient(server, "-v", "update", "check")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 1.5
    # many more than five 423s were answered while updog slept: none counted as a failure
    assert done.stderr.count("GET /updates/status -> 423") > 5
    assert json.loads(done.stdout)["most_recent_command"]["cmd_status"] == "Success"


def test_wait_request_times_out_after_its_attempts(server: UpdatesServer) -> None:
    server.system.control(calls=str(server.system.calls), sleep=1.0)
    with pytest.raises(ApiClientError) as caught:
        wait_request(server.socket_path, "/actions/refresh-updates", "refresh", interval=0.05, max_attempts=4)
    assert str(caught.value) == (
        "Timed out after waiting 0.2s seconds after POST to /actions/refresh-updates, unsure of result"
    )
    server.system.wait_idle()


def test_policies_are_bottlerocket_s() -> None:
    assert {name: (p.interval * p.max_attempts) for name, p in POLICIES.items()} == {
        "refresh": 10.0,
        "prepare": 600.0,
        "activate": 5.0,
        "deactivate": 5.0,
    }
    assert (POLICIES["refresh"].interval, POLICIES["prepare"].interval) == (0.1, 0.5)


def test_a_refused_action_is_the_request_error(server: UpdatesServer) -> None:
    done = apiclient(server, "update", "cancel")  # nothing was staged
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "Update action not allowed according to update state (Failed to cancel update: Failed to make deactivate "
        "request, status 409)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["update"], "Missing or unknown subcommand for 'update'"),
        (["update", "check", "extra"], "Unknown arguments: extra"),
        (["update", "cancel", "a", "b"], "Unknown arguments: a, b"),
        (["update", "apply", "--bogus"], "Unknown argument '--bogus'"),
    ],
)
def test_argument_errors(server: UpdatesServer, argv: list[str], message: str) -> None:
    done = apiclient(server, *argv)
    assert done.returncode == 2
    assert done.stderr.startswith(message + "\n\n")
    assert not server.system.status_path.exists()  # nothing was sent


def test_image_without_in_place_updates_refuses_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = make_system(tmp_path / "uki", dual=False, os_release=OS_RELEASE + "IN_PLACE_UPDATES=false\n")
    with updates_server(tmp_path, monkeypatch, system) as server:
        done = apiclient(server, "update", "check")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        "Failed to check for updates: Unable to check initial update status, got code '501 Not Implemented': "
        "In-place updates are not supported on this image: it is updated by replacing it with a new image"
    )
    assert system.updog_calls() == []
