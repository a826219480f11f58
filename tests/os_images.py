"""The firmware that boots an OS disk with Bottlerocket's partition layout, and the factory that
writes a release into a partition set.

A bootable release (``TufRepo.add_release(..., os_release=…)``) is three images, as
Bottlerocket's: ROOT (the release's os-release in its first block, then data), HASH (ROOT's
dm-verity hash tree, ``veritysetup format``) and BOOT (``root_hash=…``, what Bottlerocket's
grub.cfg gives the kernel). :class:`Firmware` boots the disk as a machine does: GRUB's
``gptprio.next`` choice (``thar.signpost.bootsim``: a try used up and written), then the
kernel's dm-verity check of ROOT against HASH with BOOT's root hash (``veritysetup verify``: a
set that fails it panics, the machine resets and GRUB chooses again), then the root's
os-release: the version that runs.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.tuf_repo import BLOCK, Release
from thar.osrelease import parse_os_release
from thar.signpost import bootsim, gpt
from thar.signpost.state import BOOT, HASH, ROOT

__all__ = ["BootResult", "Firmware", "install_release"]

KINDS = (("boot", BOOT), ("root", ROOT), ("hash", HASH))


def _set_partitions(table: gpt.Table, index: int) -> dict[str, gpt.Entry]:
    """BOOT, ROOT and HASH of set ``index`` (0: A, 1: B), by kind."""
    return {kind: [e for e in table.used() if e.type_guid == guid][index] for kind, guid in KINDS}


def _read(disk: str, table: gpt.Table, entry: gpt.Entry, length: int | None = None) -> bytes:
    size = (entry.last_lba - entry.first_lba + 1) * table.sector_size
    fd = os.open(disk, os.O_RDONLY)
    try:
        return os.pread(fd, length or size, entry.first_lba * table.sector_size)
    finally:
        os.close(fd)


def _flush(disk: str) -> None:
    """Drop the block device's cached pages: partitions written through other loop devices of
    the same image are read as the disk holds them."""
    subprocess.run(["blockdev", "--flushbufs", disk], check=True, capture_output=True, timeout=60)


def install_release(disk: str, index: int, release: Release) -> None:
    """Write ``release``'s images into partition set ``index`` (0: A), as an image is built."""
    table = gpt.read(disk)
    fd = os.open(disk, os.O_WRONLY)
    try:
        for kind, entry in _set_partitions(table, index).items():
            os.pwrite(fd, release.images[kind], entry.first_lba * table.sector_size)
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class BootResult:
    set: str  # "A" or "B"
    os_release: str  # the booted root's
    attempts: list[str]  # the sets GRUB chose, in order (a set whose verity check failed panicked)

    @property
    def version(self) -> str:
        return parse_os_release(self.os_release)["VERSION_ID"]


class Firmware:
    """Boots ``disk`` (a block device); ``state`` receives the boot's record for the booted
    system (``state/run/signpost/boot.json``, bound at the host's ``/run/signpost``)."""

    def __init__(self, disk: str, state: Path, workdir: Path) -> None:
        self.disk, self.state, self.workdir = disk, state, workdir

    def boot(self) -> BootResult:
        attempts: list[str] = []
        while True:
            _flush(self.disk)
            chosen = bootsim.boot(self.state, self.disk)  # bootsim.BootFailed when nothing can boot
            attempts.append(chosen)
            table = gpt.read(self.disk)
            parts = _set_partitions(table, "AB".index(chosen))
            command_line = _read(self.disk, table, parts["boot"], BLOCK).rstrip(b"\0").decode(errors="replace")
            found = re.search(r"root_hash=([0-9a-f]+)", command_line)
            if found and self._verity_ok(table, parts, found.group(1)):
                header = _read(self.disk, table, parts["root"], BLOCK)
                return BootResult(chosen, header.rstrip(b"\0").decode(), attempts)

    def _verity_ok(self, table: gpt.Table, parts: dict[str, gpt.Entry], root_hash: str) -> bool:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data, tree = self.workdir / "root", self.workdir / "hash"
        data.write_bytes(_read(self.disk, table, parts["root"]))
        tree.write_bytes(_read(self.disk, table, parts["hash"]))
        done = subprocess.run(
            ["veritysetup", "verify", str(data), str(tree), root_hash], capture_output=True, text=True, timeout=60
        )
        return done.returncode == 0
