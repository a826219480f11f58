"""A GUID partition table: read, check and rewrite both copies (primary and backup).

Only what signpost needs: the partition entries with their attribute bits, the CRCs that make a
table valid, and a writer for new tables (disk images for tests and the update flow). Layout from
the UEFI specification, chapter 5: protective MBR at LBA 0, primary header at LBA 1 with its entry
array at LBA 2, backup entry array just before the backup header at the disk's last LBA.
"""

from __future__ import annotations

import os
import stat
import struct
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "Entry",
    "GptError",
    "NewPartition",
    "Table",
    "create",
    "read",
    "write",
]

SIGNATURE = b"EFI PART"
REVISION = 0x00010000
HEADER_SIZE = 92
HEADER = struct.Struct("<8sIIIIQQQQ16sQIII")  # 92 bytes
ENTRY = struct.Struct("<16s16sQQQ72s")  # 128 bytes
ENTRY_COUNT = 128
ENTRY_SIZE = 128
SECTOR_SIZES = (512, 4096)  # tried in this order when reading
ZERO_GUID = uuid.UUID(int=0)


class GptError(Exception):
    """The table could not be read (missing, corrupt) or written."""


@dataclass(frozen=True)
class Entry:
    """One slot of the entry array; ``number`` is 1-based, as the kernel and sgdisk count."""

    number: int
    type_guid: uuid.UUID
    unique_guid: uuid.UUID
    first_lba: int
    last_lba: int  # inclusive
    attributes: int
    name: str
    extra: bytes = b""  # bytes past the 128 of the entry's layout (entry size > 128), kept as read

    @property
    def used(self) -> bool:
        return self.type_guid != ZERO_GUID

    def pack(self) -> bytes:
        name = self.name.encode("utf-16-le")[:72]
        return (
            ENTRY.pack(
                self.type_guid.bytes_le,
                self.unique_guid.bytes_le,
                self.first_lba,
                self.last_lba,
                self.attributes,
                name,
            )
            + self.extra
        )

    @classmethod
    def unpack(cls, number: int, raw: bytes) -> Entry:
        type_le, unique_le, first, last, attributes, name = ENTRY.unpack_from(raw)
        return cls(
            number=number,
            type_guid=uuid.UUID(bytes_le=type_le),
            unique_guid=uuid.UUID(bytes_le=unique_le),
            first_lba=first,
            last_lba=last,
            attributes=attributes,
            name=name.decode("utf-16-le", "replace").split("\0", 1)[0],
            extra=raw[ENTRY.size :],
        )


@dataclass
class Table:
    """A valid table as read: its geometry and every entry slot (used or not)."""

    sector_size: int
    disk_guid: uuid.UUID
    first_usable_lba: int
    last_usable_lba: int
    backup_lba: int
    entry_size: int
    entries: list[Entry] = field(default_factory=list)

    def used(self) -> Iterator[Entry]:
        """The used entries in table order."""
        return (entry for entry in self.entries if entry.used)

    def __getitem__(self, number: int) -> Entry:
        return self.entries[number - 1]

    def set_attributes(self, number: int, attributes: int) -> None:
        self.entries[number - 1] = replace(self.entries[number - 1], attributes=attributes)

    def entries_bytes(self) -> bytes:
        return b"".join(entry.pack() for entry in self.entries)

    @property
    def entry_sectors(self) -> int:
        return -(-len(self.entries) * self.entry_size // self.sector_size)


def _header(table: Table, *, current: int, other: int, entries_lba: int, entries_crc: int) -> bytes:
    fields = (
        SIGNATURE,
        REVISION,
        HEADER_SIZE,
        0,
        0,
        current,
        other,
        table.first_usable_lba,
        table.last_usable_lba,
        table.disk_guid.bytes_le,
        entries_lba,
        len(table.entries),
        table.entry_size,
        entries_crc,
    )
    unsigned = HEADER.pack(*fields)
    crc = zlib.crc32(unsigned)
    return HEADER.pack(*fields[:3], crc, *fields[4:])


def _pread(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise GptError(f"short read at byte {offset} (the disk is smaller than its table says)")
    return data


def _read_at(fd: int, sector_size: int) -> Table | None:
    """The table whose primary header is at LBA 1 of ``sector_size`` bytes; None when there is no
    signature there; GptError when there is one but the header or entry array CRC is wrong."""
    raw = os.pread(fd, sector_size, sector_size)
    if len(raw) < HEADER_SIZE or raw[:8] != SIGNATURE:
        return None
    (_, _, header_size, header_crc, _, current, backup, first, last, disk_le, entries_lba, count, size, entries_crc) = (
        HEADER.unpack_from(raw)
    )
    if header_size < HEADER_SIZE or header_size > sector_size:
        raise GptError(f"primary GPT header has an invalid size {header_size}")
    zeroed = raw[:16] + b"\0\0\0\0" + raw[20:header_size]
    if zlib.crc32(zeroed) != header_crc:
        raise GptError("primary GPT header CRC32 mismatch")
    if current != 1 or size < ENTRY_SIZE or size % 8 or count == 0 or count * size > 1 << 24:
        raise GptError(f"primary GPT header is inconsistent (current LBA {current}, entries {count} x {size})")
    array = _pread(fd, count * size, entries_lba * sector_size)
    if zlib.crc32(array) != entries_crc:
        raise GptError("primary GPT partition entry array CRC32 mismatch")
    entries = [Entry.unpack(n + 1, array[n * size : (n + 1) * size]) for n in range(count)]
    return Table(sector_size, uuid.UUID(bytes_le=disk_le), first, last, backup, size, entries)


def read(path: Path | str) -> Table:
    """The table on the disk or image at ``path``, checked: a bad CRC is an error, never a guess."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise GptError(f"Failed to open {path} for reading: {error.strerror}") from None
    try:
        for sector_size in SECTOR_SIZES:
            try:
                table = _read_at(fd, sector_size)
            except GptError as error:
                raise GptError(f"Failed to find GPT on device {path}: {error}") from None
            if table is not None:
                return table
    finally:
        os.close(fd)
    raise GptError(f"Failed to find GPT on device {path}: no GPT header signature")


def _check_writable(path: Path | str) -> None:
    """Only a block device or an existing regular file (a disk image) is ever written; a missing
    node below /dev would otherwise become a regular file in devtmpfs."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise GptError(f"Failed to open {path} for writing: {error.strerror}") from None
    if stat.S_ISBLK(mode):
        return
    if stat.S_ISREG(mode) and not str(Path(path).resolve()).startswith("/dev/"):
        return
    raise GptError(f"Failed to open {path} for writing: not a block device or disk image")


def write(path: Path | str, table: Table) -> None:
    """Write both entry arrays and both headers, CRCs recomputed; the MBR and all data untouched.

    The backup header goes to the table's backup LBA and its array just before it, so a damaged
    backup is rewritten from the primary."""
    _check_writable(path)
    ss = table.sector_size
    array = table.entries_bytes()
    crc = zlib.crc32(array)
    backup_entries_lba = table.backup_lba - table.entry_sectors
    primary = _header(table, current=1, other=table.backup_lba, entries_lba=2, entries_crc=crc)
    backup = _header(table, current=table.backup_lba, other=1, entries_lba=backup_entries_lba, entries_crc=crc)
    fd = os.open(path, os.O_WRONLY)  # never O_TRUNC: it is a disk
    try:
        os.pwrite(fd, array, 2 * ss)
        os.pwrite(fd, primary.ljust(ss, b"\0"), ss)
        os.pwrite(fd, array, backup_entries_lba * ss)
        os.pwrite(fd, backup.ljust(ss, b"\0"), table.backup_lba * ss)
        os.fsync(fd)
    except OSError as error:
        raise GptError(f"Failed to write GPT onto device {path}: {error.strerror}") from None
    finally:
        os.close(fd)


@dataclass(frozen=True)
class NewPartition:
    """A partition for ``create``: its type, name, size in sectors and attribute bits."""

    type_guid: uuid.UUID
    name: str
    sectors: int
    attributes: int = 0


def _protective_mbr(total_sectors: int) -> bytes:
    size = min(total_sectors - 1, 0xFFFFFFFF)
    # one partition of type 0xEE from LBA 1 over the whole disk (CHS fields: the 0xFFFFFF "too big")
    part = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE, b"\xff\xff\xff", 1, size)
    return b"\0" * 446 + part + b"\0" * 48 + b"\x55\xaa"


def create(path: Path | str, size: int, partitions: Sequence[NewPartition], *, align: int = 2048) -> Table:
    """A new sparse disk image of ``size`` bytes at ``path`` (which must not exist) with a
    protective MBR and a GPT holding ``partitions`` in order, numbered from 1, each starting on an
    ``align``-sector boundary. Returns the table written."""
    ss = 512
    if size % ss:
        raise GptError(f"disk size {size} is not a multiple of {ss}")
    total = size // ss
    entry_sectors = ENTRY_COUNT * ENTRY_SIZE // ss
    table = Table(
        sector_size=ss,
        disk_guid=uuid.uuid4(),
        first_usable_lba=2 + entry_sectors,
        last_usable_lba=total - 2 - entry_sectors,
        backup_lba=total - 1,
        entry_size=ENTRY_SIZE,
    )
    lba = table.first_usable_lba
    for number, new in enumerate(partitions, start=1):
        lba = -(-lba // align) * align
        last = lba + new.sectors - 1
        if last > table.last_usable_lba:
            raise GptError(f"partition {number} ({new.name}) does not fit on a disk of {size} bytes")
        table.entries.append(Entry(number, new.type_guid, uuid.uuid4(), lba, last, new.attributes, new.name))
        lba = last + 1
    for number in range(len(table.entries) + 1, ENTRY_COUNT + 1):
        table.entries.append(Entry(number, ZERO_GUID, ZERO_GUID, 0, 0, 0, ""))
    with open(path, "xb") as image:
        image.truncate(size)
        image.write(_protective_mbr(total))
    write(path, table)
    return table
