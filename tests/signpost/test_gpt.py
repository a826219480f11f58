"""thar's own GPT code against sgdisk: the tables it writes are valid, the bits it reads are the
ones sgdisk sets, and a table with a wrong CRC is refused."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from tests.signpost.conftest import BOOT_A, BOOT_B, PRIVATE, bits, make_system, need_sgdisk, sgdisk, verify
from thar.signpost import gpt, image
from thar.signpost.state import BOOT, HASH, ROOT

LAYOUT = [
    (1, "EF02", "BIOS-BOOT", image.BIOS_BOOT),
    (2, "EF00", "EFI-SYSTEM", image.EFI_SYSTEM),
    (3, None, "BOTTLEROCKET-BOOT-A", BOOT),
    (4, None, "BOTTLEROCKET-ROOT-A", ROOT),
    (5, None, "BOTTLEROCKET-HASH-A", HASH),
    (6, None, "BOTTLEROCKET-RESERVED-A", image.RESERVED),
    (7, None, "EFI-BACKUP", image.EFI_BACKUP),
    (8, None, "BOTTLEROCKET-BOOT-B", BOOT),
    (9, None, "BOTTLEROCKET-ROOT-B", ROOT),
    (10, None, "BOTTLEROCKET-HASH-B", HASH),
    (11, None, "BOTTLEROCKET-RESERVED-B", image.RESERVED),
    (12, None, "BOTTLEROCKET-PRIVATE", uuid.UUID("440408bb-eb0b-4328-a6e5-a29038fad706")),
    (13, None, "BOTTLEROCKET-DATA", image.DATA),
]


def test_the_image_has_bottlerocket_s_layout_as_sgdisk_reads_it(tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    table = image.make_disk(disk)
    verify(disk)
    assert os.stat(disk).st_blocks * 512 < os.path.getsize(disk) // 4  # sparse
    for number, code, name, type_guid in LAYOUT:
        info = sgdisk("-i", str(number), str(disk))
        assert f"Partition GUID code: {str(type_guid).upper()}" in info  # mixed-endian on disk
        assert f"Partition name: '{name}'" in info
        entry = table[number]
        assert f"First sector: {entry.first_lba} " in info and f"Last sector: {entry.last_lba} " in info
        assert re.search(rf"Partition unique GUID: {str(entry.unique_guid).upper()}\b", info)
        if code:
            assert re.search(rf"^\s+{number}\s.*\s{code}\s+{name}$", sgdisk("-p", str(disk)), re.M)
    assert bits(disk, BOOT_A) == (1, 0, True)
    assert bits(disk, BOOT_B) == (0, 0, False)
    assert bits(disk, PRIVATE) == (0, 0, False)


def test_read_returns_what_was_written_and_the_bits_sgdisk_sets(tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    written = image.make_disk(disk)
    assert gpt.read(disk).entries == written.entries
    sgdisk("-A", "8:set:49", "-A", "8:set:52", "-A", "8:set:63", "-A", "12:set:0", str(disk))
    table = gpt.read(disk)
    assert table[BOOT_B].attributes == (1 << 49) | (1 << 52) | (1 << 63)
    assert table[PRIVATE].attributes == 1
    assert [entry.number for entry in table.used()] == list(range(1, 14))
    assert len(table.entries) == 128


def test_write_rewrites_both_tables_and_repairs_the_backup(tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    table = image.make_disk(disk)
    size = os.path.getsize(disk)
    with open(disk, "r+b") as f:  # break the backup header's CRC
        f.seek(size - 512 + 16)
        f.write(b"\xde\xad\xbe\xef")
    need_sgdisk()
    table.set_attributes(BOOT_B, (2 << 48) | (1 << 52))
    gpt.write(disk, table)
    verify(disk)
    assert bits(disk, BOOT_B) == (2, 1, False)
    data = disk.read_bytes()
    assert data[1024 : 1024 + 128 * 128] == data[size - 512 - 128 * 128 : size - 512]  # both arrays
    assert data[510:512] == b"\x55\xaa" and data[450] == 0xEE  # protective MBR untouched
    assert os.path.getsize(disk) == size


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (512 + 16, "primary GPT header CRC32 mismatch"),
        (1024 + 3 * 128 - 80, "primary GPT partition entry array CRC32 mismatch"),
    ],
)
def test_a_table_with_a_wrong_crc_is_refused(tmp_path: Path, offset: int, message: str) -> None:
    system = make_system(tmp_path)
    with open(system.disk, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    before = system.disk.read_bytes()
    with pytest.raises(gpt.GptError, match=message):
        gpt.read(system.disk)
    for command in ("status", "mark-successful-boot", "rewrite-table"):
        assert system.fails(command) == f"Failed to find GPT on device {system.disk}: {message}\n"
    assert system.disk.read_bytes() == before  # nothing written over a table it could not trust


def test_a_disk_without_a_gpt_is_refused(tmp_path: Path) -> None:
    disk = tmp_path / "blank.img"
    disk.write_bytes(bytes(1 << 20))
    with pytest.raises(gpt.GptError, match="no GPT header signature"):
        gpt.read(disk)


def test_only_block_devices_and_disk_images_are_written(tmp_path: Path) -> None:
    table = image.make_disk(tmp_path / "disk.img")
    missing = Path("/dev/thar-signpost-no-such-disk")
    with pytest.raises(gpt.GptError, match="Failed to open /dev/thar-signpost-no-such-disk for writing"):
        gpt.write(missing, table)
    assert not missing.exists()  # not created as a regular file in devtmpfs
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(gpt.GptError, match="not a block device or disk image"):
        gpt.write(tmp_path / "fifo", table)
