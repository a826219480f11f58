"""thar-be-updates: the state machine, the lock, the status file and the signpost effects
(updates.md §6), run as a program against an OS disk image and the updog stand-in."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest

from thar.signpost.bootsim import reboot
from thar.signpost.state import State

from .conftest import ARCH, System, make_system

IMAGE_20 = {"arch": ARCH, "version": "1.20.0", "variant": "aws-dev"}
IMAGE_21 = {"arch": ARCH, "version": "1.21.0", "variant": "aws-dev"}


def test_first_refresh_creates_the_status_and_chooses_the_newest(system: System) -> None:
    status = system.do("refresh")
    assert list(status) == [
        "update_state",
        "available_updates",
        "chosen_update",
        "active_partition",
        "staging_partition",
        "most_recent_command",
    ]
    assert status["update_state"] == "Available"
    assert status["available_updates"] == ["1.21.0", "1.20.0", "1.19.0"]
    assert status["chosen_update"] == IMAGE_21
    assert status["active_partition"] == {"image": IMAGE_20, "next_to_boot": True}
    assert status["staging_partition"] is None
    command = status["most_recent_command"]
    assert (command["cmd_type"], command["cmd_status"], command["exit_status"]) == ("refresh", "Success", 0)
    assert command["timestamp"].endswith("Z")
    assert system.updog_calls() == [["whats", "--all", "--json"]]
    text = system.status_path.read_text()
    assert text.startswith('{\n  "update_state"') and not text.endswith("\n")
    assert stat.S_IMODE(system.status_path.stat().st_mode) == 0o600


def test_full_flow_writes_set_b_and_boots_it(system: System) -> None:
    system.do("refresh")
    status = system.do("prepare")
    assert status["update_state"] == "Staged"
    assert status["staging_partition"] == {"image": IMAGE_21, "next_to_boot": False}
    state = State.load(system.root)
    target = state.sets[1].root
    with system.disk.open("rb") as disk:
        disk.seek(target.offset)
        assert disk.read(15) == b"root of 1.21.0\n"
    assert state.gptprio(1).tries_left == 1 and state.next() == 0

    status = system.do("activate")
    assert status["update_state"] == "Ready"
    assert status["staging_partition"]["next_to_boot"] is True
    assert status["active_partition"]["next_to_boot"] is False
    assert State.load(system.root).next() == 1

    status = system.do("deactivate")
    assert status["update_state"] == "Staged"
    assert status["staging_partition"] == {"image": IMAGE_21, "next_to_boot": False}
    assert status["active_partition"]["next_to_boot"] is True
    assert State.load(system.root).next() == 0

    assert system.do("activate")["update_state"] == "Ready"
    assert reboot(system.root, success=True) == "B"
    assert not system.status_path.exists()  # /run is a tmpfs: a reboot starts without a status
    assert system.updog_calls()[1:] == [["update-image"], ["update-apply"], ["update-revert"], ["update-apply"]]


@pytest.mark.parametrize(
    ("state_commands", "command", "state"),
    [
        ((), "prepare", "Idle"),
        ((), "activate", "Idle"),
        ((), "deactivate", "Idle"),
        (("refresh",), "activate", "Available"),
        (("refresh",), "deactivate", "Available"),
        (("refresh", "prepare"), "deactivate", "Staged"),
        (("refresh", "prepare", "activate"), "prepare", "Ready"),
        (("refresh", "prepare", "activate"), "activate", "Ready"),
    ],
)
def test_refused_pairs_exit_65_and_keep_the_status(
    system: System, state_commands: tuple[str, ...], command: str, state: str
) -> None:
    for earlier in state_commands:
        system.do(earlier)
    before = system.status() if state_commands else None
    result = system.run(command)
    assert result.returncode == 65
    assert result.stderr.strip() == f"Command '{command.capitalize()}' not allowed when state is '{state}'"
    status = system.status()  # QUIRK: a first-ever refused command creates the status (Idle)
    assert status["update_state"] == state
    if before is not None:
        assert status == before


def test_pre_checks_66_and_67_on_hand_written_status(system: System) -> None:
    system.do("refresh")
    status = system.status()
    status["chosen_update"] = None
    system.status_path.write_text(json.dumps(status))
    assert system.run("prepare").returncode == 66
    status.update(update_state="Staged", staging_partition=None)
    system.status_path.write_text(json.dumps(status))
    assert system.run("activate").returncode == 67
    status["update_state"] = "Ready"
    system.status_path.write_text(json.dumps(status))
    assert system.run("deactivate").returncode == 67
    assert system.status() == status  # rewritten, unchanged


def test_refresh_failure_goes_idle_with_stale_lists(system: System) -> None:
    system.do("refresh")
    (system.repo / "manifest.json").unlink()
    status = system.do("refresh")
    assert status["update_state"] == "Idle"
    assert status["available_updates"] == ["1.21.0", "1.20.0", "1.19.0"]  # QUIRK: the old lists stay
    assert status["chosen_update"] == IMAGE_21
    command = status["most_recent_command"]
    assert (command["cmd_status"], command["exit_status"]) == ("Failed", 1)
    assert command["stderr"] == "Manifest not found in repository\n"


def test_refresh_in_staged_keeps_the_state(system: System) -> None:
    system.do("refresh")
    system.do("prepare")
    system.publish("1.20.0", "1.22.0")
    status = system.do("refresh")
    assert status["update_state"] == "Staged"
    assert status["available_updates"] == ["1.22.0", "1.20.0"]
    assert status["chosen_update"]["version"] == "1.22.0"
    assert status["staging_partition"]["image"] == IMAGE_21


def test_version_lock_chooses_a_downgrade_or_nothing(system: System) -> None:
    system.version_lock("v1.19.0")
    status = system.do("refresh")
    assert (status["update_state"], status["chosen_update"]["version"]) == ("Available", "1.19.0")
    system.version_lock("1.20.0")
    status = system.do("refresh")
    assert (status["update_state"], status["chosen_update"]) == ("Idle", None)


def test_prepare_records_the_chosen_update_not_what_updog_wrote(system: System) -> None:
    """QUIRK (§6.6): prepare does not tell updog the version; a lock changed since the refresh
    makes updog write another release, and the status still names the chosen one."""
    system.do("refresh")
    system.version_lock("1.19.0")  # updog's own lock now differs
    status = system.do("prepare")
    assert status["staging_partition"]["image"] == IMAGE_21
    state = State.load(system.root)
    with system.disk.open("rb") as disk:
        disk.seek(state.sets[1].root.offset)
        assert disk.read(15) == b"root of 1.19.0\n"


def test_prepare_with_nothing_to_write_is_staged_and_activate_fails(system: System) -> None:
    """QUIRK (§6.6): updog finds nothing (``No update required``, exit 0): Staged anyway; the
    following activate fails in update-apply, the state stays Staged."""
    system.do("refresh")
    system.publish("1.20.0")
    status = system.do("prepare")
    assert status["update_state"] == "Staged"
    assert status["most_recent_command"]["stderr"] == "No update required\n"
    status = system.do("activate")
    assert status["update_state"] == "Staged"
    command = status["most_recent_command"]
    assert (command["cmd_type"], command["cmd_status"]) == ("activate", "Failed")
    assert "Could not mark inactive partition for boot" in command["stderr"]
    assert State.load(system.root).next() == 0


def test_lock_held_by_the_child_refuses_a_second_command(system: System) -> None:
    system.control(sleep=1.0)
    first = system.run("refresh")
    assert first.returncode == 0  # the parent returned while updog still runs
    assert not system.status()["most_recent_command"]
    second = system.run("refresh")
    assert second.returncode == 64
    assert second.stderr.startswith(f"Unable to obtain lock on lockfile '{system.lock_path}'")
    system.wait_idle()
    assert system.status()["update_state"] == "Available"
    assert system.run("prepare").returncode == 0
    system.wait_idle()


def test_updog_killed_by_a_signal_records_the_signal(system: System) -> None:
    system.control(sleep=30)
    assert system.run("refresh").returncode == 0
    deadline = time.monotonic() + 10
    pids: list[str] = []
    while not pids and time.monotonic() < deadline:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and _is_stub(p, system)]
        time.sleep(0.02)
    assert pids, "updog did not start"
    os.kill(int(pids[0]), signal.SIGKILL)
    system.wait_idle()
    command = system.status()["most_recent_command"]
    assert (command["cmd_status"], command["exit_status"]) == ("Failed", 9)
    assert system.status()["update_state"] == "Idle"


def _is_stub(pid: str, system: System) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return any(arg.endswith(b"updog_stub.py") for arg in cmdline) and str(system.root).encode() in environ


def test_no_bootable_set_fails_without_a_status(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    state = State.load(system.root)
    for index in (0, 1):
        state._set_gptprio(index, state.gptprio(index).with_priority(0).with_successful(False).with_tries_left(0))
    state.write()
    result = system.run("refresh")
    assert (result.returncode, result.stderr.strip()) == (1, "No partition set is set to boot next")
    assert not system.status_path.exists()


def test_image_without_in_place_updates_is_refused(tmp_path: Path) -> None:
    from .conftest import OS_RELEASE

    system = make_system(tmp_path, os_release=OS_RELEASE + "IN_PLACE_UPDATES=false\n")
    result = system.run("refresh")
    assert result.returncode == 1
    assert "updated by replacing it with a new image" in result.stderr
    assert not system.status_path.exists() and system.updog_calls() == []


@pytest.mark.parametrize(
    "argv", [[], ["bogus"], ["refresh", "refresh"], ["refresh", "--nope"], ["refresh", "--config-path"]]
)
def test_usage_errors_exit_2(system: System, argv: list[str]) -> None:
    result = system.run(*argv)
    assert result.returncode == 2 and "usage: thar-be-updates" in result.stderr
    assert not system.status_path.exists()


def test_refresh_output_that_is_no_list_keeps_the_state(system: System) -> None:
    system.do("refresh")
    before = system.status()
    system.control(stdout='{"not": "a list"}')
    status = system.do("refresh")
    command = status["most_recent_command"]
    assert (command["cmd_type"], command["cmd_status"], command["exit_status"]) == ("refresh", "Success", 0)
    assert {k: v for k, v in status.items() if k != "most_recent_command"} == {
        k: v for k, v in before.items() if k != "most_recent_command"
    }


def test_refresh_with_an_invalid_version_lock_replaces_only_the_list(system: System) -> None:
    system.do("refresh")
    system.publish("1.20.0", "1.22.0")
    (system.root / "etc/thar-be-updates.toml").write_text('version-lock = "Latest"\n')
    status = system.do("refresh")
    assert status["available_updates"] == ["1.22.0", "1.20.0"]
    assert (status["update_state"], status["chosen_update"]) == ("Available", IMAGE_21)


def test_updog_missing_leaves_no_command_record(system: System) -> None:
    system.do("refresh")
    before = system.status()
    (system.bin / "updog").unlink()
    assert system.do("refresh") == before
