"""The whole update flow on a real systemd host booted from a loop-device disk.

The host's OS disk is a sparse image with Bottlerocket's partition layout, attached as a loop
device and bound into the container; set A holds release 1.0.0 (``tests/os_images.py``: ROOT,
its dm-verity HASH, BOOT with the root hash). A TUF repository built with python-tuf holds
1.0.0 and 1.1.0 and the 1.1.0 migration; the host serves it on its own loopback (the host has a
private network). The user data points ``settings.updates`` at it. ``apiclient update apply
--check --reboot`` runs there as a user runs it (or brupop's agent's ``apiclient raw`` calls):
the apiserver's update actions, thar-be-updates, updog writing set B of the loop device,
signpost, then ``systemctl reboot``. The firmware
(GRUB's gptprio choice, dm-verity, the root's os-release) boots the disk again, and the host's
systemd runs the boot: the migrator (the release's migration from updog's cache), storewolf,
the apiserver…, and mark-successful-boot.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lz4.frame
import pytest

from tests.host.conftest import MakeHost, require
from tests.os_images import BootResult, Firmware, install_release
from tests.tuf_repo import Release, TufRepo
from thar.sandbox.host import ThrowawayHost
from thar.signpost import gpt
from thar.signpost.image import make_disk
from thar.signpost.state import BOOT, HASH, ROOT, GptPrio, partition_path

ARCH = platform.machine()
VARIANT = "thar-dev"
PORT = 8990
REPO = "/srv/thar-updates"  # the repository, inside the host (TufRepo below it, in repo/)
# The 1.1.0 migration moves the metadata URL (the repository serves both paths), as a release
# whose repository moved would.
OLD_METADATA = f"http://127.0.0.1:{PORT}/meta/2020-07-07/{VARIANT}/{ARCH}/"
NEW_METADATA = f"http://127.0.0.1:{PORT}/metadata/2020-07-07/{VARIANT}/{ARCH}/"
MIGRATION = "migrate_v1.1.0_metadata-url.lz4"
USER_DATA = f"""
[settings.updates]
metadata-base-url = "{OLD_METADATA}"
targets-base-url = "http://127.0.0.1:{PORT}/targets/"
ignore-waves = true
"""


def migration(bindir: Path, *, fails: bool = False) -> bytes:
    """The 1.1.0 migration executable (LZ4-framed, as a repository serves migrations)."""
    body = (
        "sys.exit('this migration fails on purpose')"
        if fails
        else (
            "from thar.migrations.migration_helpers import ReplaceStringMigration, migrate\n"
            "sys.exit(migrate(ReplaceStringMigration(setting='settings.updates.metadata-base-url', "
            f"old_val={OLD_METADATA!r}, new_val={NEW_METADATA!r})))"
        )
    )
    return bytes(lz4.frame.compress(f"#!{bindir}/python\nimport sys\n{body}\n".encode()))


def attach(*args: str) -> str:
    done = subprocess.run(["losetup", "--find", "--show", *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        require(f"losetup cannot attach a loop device here: {done.stderr.strip()}")
    device = done.stdout.strip()
    assert stat.S_ISBLK(os.stat(device).st_mode), device
    return device


@dataclass
class LoopDisk:
    """The OS disk as a loop device, and a loop device per BOOT, ROOT and HASH partition (by
    number: the kernel makes no partition nodes for a loop device here, updates.md §10.4)."""

    device: str
    partitions: dict[int, str]


@pytest.fixture
def loop_disk(tmp_path: Path) -> Iterator[LoopDisk]:
    """A sparse image with Bottlerocket's layout, attached; every loop device detached after."""
    for tool, package in (("losetup", "mount"), ("veritysetup", "cryptsetup-bin"), ("blockdev", "util-linux")):
        if shutil.which(tool) is None:
            require(f"{tool} is missing (Debian's {package})")
    image = tmp_path / "disk.img"
    table = make_disk(image)
    attached: list[str] = []
    try:
        attached.append(attach(str(image)))
        partitions = {}
        for entry in table.used():
            if entry.type_guid in (BOOT, ROOT, HASH):
                offset, size = entry.first_lba * 512, (entry.last_lba - entry.first_lba + 1) * 512
                device = attach("--offset", str(offset), "--sizelimit", str(size), str(image))
                attached.append(device)
                partitions[entry.number] = device
        yield LoopDisk(attached[0], partitions)
    finally:
        for device in reversed(attached):
            subprocess.run(["losetup", "--detach", device], check=False, timeout=60)


def release_os_release(base: str, version: str) -> str:
    """The variant's os-release (as thar-install-units wrote it) for release ``version``."""
    text = re.sub(r"(?m)^VERSION_ID=.*$", f"VERSION_ID={version}", base)
    text = re.sub(r"(?m)^VERSION=.*$", f'VERSION="{version} ({VARIANT})"', text)
    return re.sub(r"(?m)^PRETTY_NAME=.*$", f'PRETTY_NAME="thar {version} ({VARIANT})"', text)


@dataclass
class Lab:
    host: ThrowawayHost
    disk: str
    firmware: Firmware
    repo: TufRepo
    releases: dict[str, Release]
    state: str = ""

    def power_on(self) -> BootResult:
        """The firmware boots the disk; the host runs the booted root's os-release."""
        booted = self.firmware.boot()
        self.host.write("/usr/lib/os-release", booted.os_release)
        self.state = self.host.boot()  # systemd's: running, or degraded when a unit failed
        return booted

    def why(self) -> str:
        """What failed in the host, for an assertion's message."""
        failed = self.host.run(["systemctl", "--failed", "--no-legend", "--plain"], check=False).stdout
        units = [line.split()[0] for line in failed.splitlines() if line.strip()]
        return failed + "".join(self.host.journal(unit)[-3000:] for unit in units) + self.host.tail()

    def serve_repository(self) -> None:
        self.host.run(
            ["systemd-run", "--unit=thar-update-repo", "--quiet", "/usr/bin/python3", "-m", "http.server",
             str(PORT), "--bind", "127.0.0.1", "--directory", f"{REPO}/repo"],
        )  # fmt: skip
        deadline = time.monotonic() + 30
        probe = f"import urllib.request; urllib.request.urlopen('{OLD_METADATA}timestamp.json', timeout=2)"
        while self.host.run(["/usr/bin/python3", "-c", probe], check=False).returncode != 0:
            assert time.monotonic() < deadline, "the repository is not served in the host"
            time.sleep(0.1)

    def api(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.host.run(["apiclient", *args], check=check, timeout=120)

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = json.loads(self.api("get", "settings").stdout)["settings"]
        return settings

    def flags(self) -> list[GptPrio]:
        """The gptprio bits of BOOT-A and BOOT-B."""
        return [GptPrio(e.attributes) for e in gpt.read(self.disk).used() if e.type_guid == BOOT]


def make_lab(make_host: MakeHost, tmp_path: Path, disk: LoopDisk, *, failing_migration: bool = False) -> Lab:
    state, repo_dir = tmp_path / "boot-state", tmp_path / "repo"
    (state / "run/signpost").mkdir(parents=True)
    binds = [f"--bind={disk.device}", f"--bind-ro={state}/run/signpost:/run/signpost", f"--bind-ro={repo_dir}:{REPO}"]
    # the partitions where the kernel would put their nodes, for updog
    binds += [f"--bind={device}:{partition_path(disk.device, n)}" for n, device in disk.partitions.items()]
    repo_dir.mkdir()
    host = make_host(user_data=USER_DATA, nspawn_options=binds)
    base = (host.root / "usr/lib/os-release").read_text()
    repo = TufRepo(repo_dir / "repo", VARIANT, ARCH)
    releases = {
        v: repo.add_release(VARIANT, ARCH, v, os_release=release_os_release(base, v)) for v in ("1.0.0", "1.1.0")
    }
    install_release(disk.device, 0, releases["1.0.0"])
    repo.manifest["migrations"] = {"(1.0.0, 1.1.0)": [MIGRATION]}
    repo.add_target(MIGRATION, migration(host.bindir, fails=failing_migration))
    repo.publish()
    (repo_dir / "repo/metadata").symlink_to("meta")
    host.write("/usr/share/updog/root.json", repo.root_bytes.decode())
    return Lab(host, disk.device, Firmware(disk.device, state, tmp_path / "firmware"), repo, releases)


def update_and_reboot(lab: Lab) -> None:
    """``apiclient update apply --check --reboot`` in the host; the host reboots at its end."""
    lab.api("update", "apply", "--check", "--reboot", check=False)
    assert lab.host.wait_stopped(timeout=120) == 133, lab.why()  # 133: a reboot was asked for


def update_as_brupop_does(lab: Lab) -> None:
    """The update as Bottlerocket's update operator's agent drives it (updates.md §10.3): only
    ``apiclient raw`` calls, the state read from ``GET /updates/status`` after each action."""

    def raw(uri: str, method: str = "GET") -> dict[str, Any]:
        done = lab.api("raw", "-m", method, "-u", uri, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def status_after(command: str) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while True:
            done = lab.api("raw", "-u", "/updates/status", check=False)
            if done.returncode == 0:
                status: dict[str, Any] = json.loads(done.stdout)
                if status["most_recent_command"]["cmd_type"] == command:
                    assert status["most_recent_command"]["cmd_status"] == "Success", status
                    assert isinstance(status["most_recent_command"]["exit_status"], int)
                    return status
            else:
                assert "Status 423" in done.stderr, done.stderr  # the update lock: retried
            assert time.monotonic() < deadline, f"{command} did not finish"
            time.sleep(0.2)

    assert raw("/os")["version_id"] == "1.0.0"
    raw("/actions/refresh-updates", "POST")
    status = status_after("refresh")
    assert status["update_state"] == "Available" and status["chosen_update"]["version"] == "1.1.0"
    raw("/actions/prepare-update", "POST")
    assert status_after("prepare")["update_state"] == "Staged"
    raw("/actions/activate-update", "POST")
    assert status_after("activate")["update_state"] == "Ready"
    lab.api("raw", "-m", "POST", "-u", "/actions/reboot", check=False)
    assert lab.host.wait_stopped(timeout=120) == 133, lab.why()


def test_apply_check_reboot_ends_on_the_new_version_with_the_settings_migrated(
    make_host: MakeHost, tmp_path: Path, loop_disk: LoopDisk
) -> None:
    lab = make_lab(make_host, tmp_path, loop_disk)
    first = lab.power_on()
    assert (first.set, first.version, lab.state) == ("A", "1.0.0", "running"), lab.why()
    lab.serve_repository()
    lab.api("set", "motd=kept across the update")
    check = json.loads(lab.api("update", "check").stdout)
    assert check["update_state"] == "Available"
    assert check["chosen_update"]["version"] == "1.1.0"

    update_and_reboot(lab)
    # updog wrote set B and signpost made it the next boot: priority 2, one try
    a, b = lab.flags()
    assert (b.priority, b.tries_left, b.successful) == (2, 1, False)
    assert (a.priority, a.successful) == (1, True)

    second = lab.power_on()
    assert (second.set, second.version, lab.state) == ("B", "1.1.0", "running"), lab.why()
    os_info = json.loads(lab.api("get", "os").stdout)
    assert os_info["os"]["version_id"] == "1.1.0"
    settings = lab.settings()
    assert settings["motd"] == "kept across the update"
    assert settings["updates"]["metadata-base-url"] == NEW_METADATA  # the release's migration ran
    assert settings["updates"]["ignore-waves"] is True
    migrator = lab.host.journal("migrator.service")
    assert "migrate_v1.1.0_metadata-url" in migrator, migrator
    # the boot succeeded: mark-successful-boot ran, set B is the one that boots from now on
    assert lab.host.show("mark-successful-boot.service", "Result", "ActiveState") == {
        "Result": "success",
        "ActiveState": "active",
    }
    a, b = lab.flags()
    assert (b.priority, b.successful) == (2, True)
    assert (a.priority, a.successful) == (1, True)
    status = lab.host.run(["signpost", "status"]).stdout
    assert "Active: " in status
    lab.api("reboot", check=False)
    assert lab.host.wait_stopped(timeout=120) == 133
    third = lab.power_on()
    assert (third.set, third.version) == ("B", "1.1.0")


def test_a_failed_boot_of_the_update_rolls_back_to_the_old_set_by_itself(
    make_host: MakeHost, tmp_path: Path, loop_disk: LoopDisk
) -> None:
    lab = make_lab(make_host, tmp_path, loop_disk, failing_migration=True)
    lab.power_on()
    lab.serve_repository()
    lab.api("set", "motd=kept through the rollback")
    update_as_brupop_does(lab)

    updated = lab.power_on()  # the migrator fails: the boot never gets to mark-successful-boot
    assert (updated.set, updated.version, lab.state) == ("B", "1.1.0", "degraded"), lab.why()
    assert lab.host.show("migrator.service", "Result")["Result"] == "exit-code"
    assert lab.host.show("mark-successful-boot.service", "ActiveState")["ActiveState"] != "active"
    b = lab.flags()[1]
    assert (b.tries_left, b.successful) == (0, False)
    lab.host.kill()  # the host is stuck; it is power-cycled

    rolled_back = lab.power_on()
    assert (rolled_back.set, rolled_back.version, lab.state) == ("A", "1.0.0", "running"), lab.why()
    assert rolled_back.attempts == ["A"]  # GRUB did not try B again: its one try is spent
    settings = lab.settings()
    assert settings["motd"] == "kept through the rollback"
    assert settings["updates"]["metadata-base-url"] == OLD_METADATA
    assert json.loads(lab.api("get", "os").stdout)["os"]["version_id"] == "1.0.0"


def test_a_corrupted_image_is_refused_and_never_becomes_bootable(
    make_host: MakeHost, tmp_path: Path, loop_disk: LoopDisk
) -> None:
    lab = make_lab(make_host, tmp_path, loop_disk)
    lab.repo.corrupt_target(lab.releases["1.1.0"].entry["images"]["root"])
    lab.power_on()
    lab.serve_repository()
    done = lab.api("update", "apply", "--check", "--reboot", check=False)
    assert done.returncode == 1
    assert "Failed to prepare update" in done.stderr, done.stderr
    status = json.loads(lab.api("raw", "-u", "/updates/status").stdout)
    assert status["most_recent_command"]["cmd_type"] == "prepare"
    assert status["most_recent_command"]["cmd_status"] == "Failed"
    b = lab.flags()[1]
    assert (b.priority, b.tries_left, b.successful) == (0, 0, False)
    lab.api("raw", "-m", "POST", "-u", "/actions/reboot", check=False)
    assert lab.host.wait_stopped(timeout=120) == 133
    again = lab.power_on()
    assert (again.set, again.version, again.attempts) == ("A", "1.0.0", ["A"])
