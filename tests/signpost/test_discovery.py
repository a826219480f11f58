"""On the host, the OS disk and the running partition come from sysfs: the first lower device of
the dm-verity device mounted at / (read here from a sysfs-shaped tree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from thar.signpost.state import SignpostError, _discover_boot_state


def sysfs(tmp_path: Path, lower: list[str], *, partition: bool = True) -> tuple[Path, str]:
    """A sysfs tree where the device of ``tmp_path/mnt`` is dm-0 over ``lower`` (on nvme0n1)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    st = os.stat(mount)
    root = tmp_path / "sys"
    dm = root / "devices/virtual/block/dm-0"
    (dm / "slaves").mkdir(parents=True)
    disk = root / "devices/pci0000:00/nvme/nvme0/nvme0n1"
    for name in lower:
        (disk / name).mkdir(parents=True)
        if partition:
            (disk / name / "partition").write_text(name.rsplit("p", 1)[1] + "\n")
        (dm / "slaves" / name).symlink_to(disk / name)
        (root / "class/block").mkdir(parents=True, exist_ok=True)
        (root / "class/block" / name).symlink_to(disk / name)
    (root / "dev/block").mkdir(parents=True)
    (root / f"dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}").symlink_to(dm)
    return root, str(mount)


def test_the_first_lower_device_names_the_disk_and_partition(tmp_path: Path) -> None:
    root, mount = sysfs(tmp_path, ["nvme0n1p9", "nvme0n1p10"])
    assert _discover_boot_state(root, mount) == ("/dev/nvme0n1", 10)  # sorted: "nvme0n1p10" < "nvme0n1p9"


def test_a_root_without_lower_devices(tmp_path: Path) -> None:
    root, mount = sysfs(tmp_path, [])
    with pytest.raises(SignpostError, match=r"^Root device /dev/dm-0 has no lower root devices$"):
        _discover_boot_state(root, mount)


def test_a_lower_device_that_is_not_a_partition(tmp_path: Path) -> None:
    root, mount = sysfs(tmp_path, ["nvme0n1p4"], partition=False)
    with pytest.raises(SignpostError, match=r"^Block device /dev/nvme0n1p4 is not a partition$"):
        _discover_boot_state(root, mount)
