"""signpost on real block devices: the image attached as a loop device is the OS disk, and each
partition's byte range (what the update flow writes images into) is a loop device of its own,
as ``losetup --offset --sizelimit`` makes them. Every loop device is detached."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers import require
from tests.signpost.conftest import BOOT_A, BOOT_B, ROOT_A, System, bits, make_system, need_sgdisk, verify
from thar.signpost import bootsim
from thar.signpost.state import State

LOSETUP = "/usr/sbin/losetup"


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[tuple[System, list[str]]]:
    """A system whose OS disk is the image attached as a loop device; the list collects every
    loop device the test attaches (the disk's first), all detached at teardown."""
    require(LOSETUP)
    need_sgdisk()
    system = make_system(tmp_path)
    attached: list[str] = []
    try:
        device = attach(attached, system.disk)
        bootsim.write_boot_state(system.root, device, ROOT_A)
        yield System(system.root, Path(device)), attached
    finally:
        for device in reversed(attached):
            subprocess.run([LOSETUP, "--detach", device], check=False, timeout=30)
        os.sync()


def attach(attached: list[str], disk: Path, offset: int = 0, size: int = 0) -> str:
    args = [LOSETUP, "--find", "--show"]
    if size:
        args += ["--offset", str(offset), "--sizelimit", str(size)]
    device = subprocess.run([*args, str(disk)], capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    attached.append(device)
    assert stat.S_ISBLK(os.stat(device).st_mode)
    return device


def test_signpost_flips_sets_on_a_block_device(loop: tuple[System, list[str]], tmp_path: Path) -> None:
    system, _ = loop
    device = str(system.disk)
    status = system.ok("status")
    assert status.startswith(f"OS disk: {device}\nSet A:   boot={device}p3 root={device}p4 hash={device}p5 ")
    system.ok("mark-inactive-valid")
    system.ok("upgrade-to-inactive")
    verify(device)
    assert (bits(device, BOOT_A), bits(device, BOOT_B)) == ((1, 0, True), (2, 1, False))
    assert bootsim.reboot(system.root, success=True) == "B"
    assert bits(tmp_path / "disk.img", BOOT_B) == (2, 0, True)  # it reached the image behind the device


def test_a_partition_s_range_is_its_own_block_device(loop: tuple[System, list[str]], tmp_path: Path) -> None:
    system, attached = loop
    state = State.load(system.root)
    inactive = state.inactive_set
    assert inactive is not None
    root_b = inactive.root
    assert (root_b.number, root_b.path) == (9, f"{system.disk}p9")
    assert not Path(root_b.path).exists()  # no partition nodes for loop devices: never write that path
    partition = attach(attached, tmp_path / "disk.img", root_b.offset, root_b.size)
    size = subprocess.run(["blockdev", "--getsize64", partition], capture_output=True, text=True, check=True)
    assert int(size.stdout) == root_b.size
    data = os.urandom(4096)
    fd = os.open(partition, os.O_WRONLY)
    try:
        os.pwrite(fd, data, root_b.size - len(data))  # the partition's last 4 KiB
        os.fsync(fd)
    finally:
        os.close(fd)
    with open(tmp_path / "disk.img", "rb") as image:
        image.seek(root_b.offset + root_b.size - len(data))
        assert image.read(len(data)) == data
    verify(system.disk)  # the table around it is untouched
