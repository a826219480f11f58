"""The partition sets of the OS disk, their gptprio bits, and every signpost operation.

An operation mutates the loaded table in memory; ``State.write`` writes it (both copies). The
bits live in the attribute u64 of each set's BOOT partition entry: priority in bits 48-51, tries
left in 52-55, successful in 56; bit 57 of the PRIVATE partition's entry records that a boot has
ever succeeded. Every other bit is preserved.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import gpt

__all__ = [
    "BOOT",
    "HASH",
    "PRIVATE",
    "ROOT",
    "GptPrio",
    "Partition",
    "PartitionSet",
    "SignpostError",
    "State",
    "boot_state_path",
    "partition_path",
]

BOOT = uuid.UUID("6b636168-7420-6568-2070-6c616e657421")
ROOT = uuid.UUID("5526016a-1a97-4ea4-b39a-b7c8c6ca4502")
HASH = uuid.UUID("598f10af-c955-4456-6a99-7720068a6cea")
PRIVATE = uuid.UUID("440408bb-eb0b-4328-a6e5-a29038fad706")

PRIORITY_SHIFT = 48
TRIES_SHIFT = 52
SUCCESSFUL_BIT = 1 << 56
BOOT_HAS_SUCCEEDED_BIT = 1 << 57
SET_NAMES = ("A", "B")


class SignpostError(Exception):
    """A signpost operation failed; the message is what the CLI prints."""


@dataclass(frozen=True)
class GptPrio:
    """The gptprio view of one attribute u64."""

    bits: int

    @property
    def priority(self) -> int:
        return (self.bits >> PRIORITY_SHIFT) & 0xF

    @property
    def tries_left(self) -> int:
        return (self.bits >> TRIES_SHIFT) & 0xF

    @property
    def successful(self) -> bool:
        return bool(self.bits & SUCCESSFUL_BIT)

    @property
    def boot_has_succeeded(self) -> bool:
        return bool(self.bits & BOOT_HAS_SUCCEEDED_BIT)

    def will_boot(self) -> bool:
        """signpost's rule (not GRUB's, see bootsim): a try left with a priority, or a success."""
        return (self.priority > 0 and self.tries_left > 0) or self.successful

    def with_priority(self, value: int) -> GptPrio:
        return GptPrio((self.bits & ~(0xF << PRIORITY_SHIFT)) | ((value & 0xF) << PRIORITY_SHIFT))

    def with_tries_left(self, value: int) -> GptPrio:
        return GptPrio((self.bits & ~(0xF << TRIES_SHIFT)) | ((value & 0xF) << TRIES_SHIFT))

    def with_successful(self, value: bool) -> GptPrio:
        return GptPrio(self.bits | SUCCESSFUL_BIT if value else self.bits & ~SUCCESSFUL_BIT)

    def with_boot_has_succeeded(self) -> GptPrio:
        return GptPrio(self.bits | BOOT_HAS_SUCCEEDED_BIT)

    def __str__(self) -> str:
        successful = "true" if self.successful else "false"
        return f"priority={self.priority} tries_left={self.tries_left} successful={successful}"


def partition_path(disk: str, number: int) -> str:
    """The kernel's name for partition ``number`` of ``disk``: ``/dev/nvme0n1p3``, ``/dev/xvda3``
    (a ``p`` when the disk's name ends in a digit). Disk images are named the same way."""
    return f"{disk}p{number}" if disk[-1:].isdigit() else f"{disk}{number}"


@dataclass(frozen=True)
class Partition:
    """A partition of the OS disk: its number, device path and byte range on the disk."""

    number: int
    path: str
    offset: int
    size: int


@dataclass(frozen=True)
class PartitionSet:
    boot: Partition
    root: Partition
    hash: Partition

    def contains(self, number: int) -> bool:
        return number in (self.boot.number, self.root.number, self.hash.number)

    def __str__(self) -> str:
        return f"boot={self.boot.path} root={self.root.path} hash={self.hash.path}"

    def debug(self) -> str:
        return f'PartitionSet {{ boot: "{self.boot.path}", root: "{self.root.path}", hash: "{self.hash.path}" }}'


def boot_state_path(root: Path) -> Path:
    """Where the running system's boot facts live when THAR_ROOT is not /."""
    return root / "run/signpost/boot.json"


def _read_boot_state(root: Path) -> tuple[str, int]:
    """(OS disk, booted partition number) from ``boot.json``."""
    path = boot_state_path(root)
    try:
        data = json.loads(path.read_text())
        disk, number = data["os_disk"], data["booted_partition"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SignpostError(f"Failed to read the boot state {path}: {error}") from None
    if not isinstance(disk, str) or not isinstance(number, int) or isinstance(number, bool):
        raise SignpostError(f"Failed to read the boot state {path}: os_disk must be a path, booted_partition a number")
    return disk, number


def _discover_boot_state(sysfs: Path = Path("/sys"), mount: str = "/") -> tuple[str, int]:
    """(OS disk, partition number) of the first lower device of the dm-verity device at ``mount``."""
    st = os.stat(mount)
    root_device = sysfs / f"dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    try:
        name = root_device.resolve().name
        lower = sorted(os.listdir(root_device / "slaves"))
    except OSError as error:
        raise SignpostError(f"Failed to get lower devices for {root_device}: {error.strerror}") from None
    if not lower:
        raise SignpostError(f"Root device /dev/{name} has no lower root devices")
    partition = sysfs / "class/block" / lower[0]
    try:
        number = int((partition / "partition").read_text())
    except (OSError, ValueError):
        raise SignpostError(f"Block device /dev/{lower[0]} is not a partition") from None
    return f"/dev/{partition.resolve().parent.name}", number


class State:
    """The OS disk's table and partition sets, and which set is running."""

    def __init__(self, os_disk: str, table: gpt.Table, booted_partition: int) -> None:
        self.os_disk = os_disk
        self.table = table

        def nth(type_guid: uuid.UUID, n: int) -> int | None:
            numbers = [entry.number for entry in table.used() if entry.type_guid == type_guid]
            return numbers[n] if n < len(numbers) else None

        def required(type_guid: uuid.UUID, n: int) -> int:
            number = nth(type_guid, n)
            if number is None:
                raise SignpostError(f"Failed to find guid partition for set {SET_NAMES[n]}")
            return number

        def partition(number: int) -> Partition:
            entry = table[number]
            size = (entry.last_lba - entry.first_lba + 1) * table.sector_size
            return Partition(number, partition_path(os_disk, number), entry.first_lba * table.sector_size, size)

        self.boot_numbers = [required(BOOT, 0)]
        second = nth(BOOT, 1)
        if second is not None:
            self.boot_numbers.append(second)
        self.sets = [
            PartitionSet(partition(boot), partition(required(ROOT, n)), partition(required(HASH, n)))
            for n, boot in enumerate(self.boot_numbers)
        ]
        if len(self.sets) == 2:
            for index, candidate in enumerate(self.sets):
                if candidate.contains(booted_partition):
                    self.active = index
                    break
            else:
                listed = ", ".join(s.debug() for s in self.sets)
                raise SignpostError(
                    f"Active partition {partition_path(os_disk, booted_partition)} not in either detected "
                    f"partition set ([{listed}])"
                )
        else:
            self.active = 0
        self.private_number = required(PRIVATE, 0)

    @classmethod
    def load(cls, root: Path | None = None) -> State:
        """The state of the running system: with ``root`` (THAR_ROOT) other than /, the disk and
        booted partition named by ``root/run/signpost/boot.json``; on the host, the disk under /
        (the dm-verity root's lower device), unless a boot simulator left ``/run/signpost/boot.json``
        (a test host booted from a disk it does not run from)."""
        if (root is not None and Path(root) != Path("/")) or boot_state_path(Path("/")).exists():
            disk, booted = _read_boot_state(Path(root or "/"))
        else:
            disk, booted = _discover_boot_state()
        try:
            table = gpt.read(disk)
        except gpt.GptError as error:
            raise SignpostError(str(error)) from None
        return cls(disk, table, booted)

    # sets

    @property
    def inactive(self) -> int | None:
        return None if len(self.sets) == 1 else 1 - self.active

    @property
    def active_set(self) -> PartitionSet:
        return self.sets[self.active]

    @property
    def inactive_set(self) -> PartitionSet | None:
        return None if self.inactive is None else self.sets[self.inactive]

    def gptprio(self, index: int) -> GptPrio:
        return GptPrio(self.table[self.boot_numbers[index]].attributes)

    def _set_gptprio(self, index: int, flags: GptPrio) -> None:
        self.table.set_attributes(self.boot_numbers[index], flags.bits)

    def next(self) -> int | None:
        """The set signpost expects to boot next (its rule; GRUB's is stricter, see bootsim)."""
        a = self.gptprio(0)
        if len(self.sets) == 1:
            return 0 if a.will_boot() else None
        b = self.gptprio(1)
        if a.will_boot() and b.will_boot():
            return 0 if a.priority >= b.priority else 1
        if a.will_boot():
            return 0
        if b.will_boot():
            return 1
        return None

    def _require_inactive(self) -> int:
        if self.inactive is None:
            raise SignpostError(f"Inactive partition {self.os_disk} is not available")
        return self.inactive

    # operations (in memory; ``write`` puts them on the disk)

    def mark_successful_boot(self) -> None:
        self._set_gptprio(self.active, self.gptprio(self.active).with_successful(True))
        private = GptPrio(self.table[self.private_number].attributes).with_boot_has_succeeded()
        self.table.set_attributes(self.private_number, private.bits)

    def clear_inactive(self) -> None:
        inactive = self._require_inactive()
        flags = self.gptprio(inactive).with_priority(0).with_tries_left(0).with_successful(False)
        self._set_gptprio(inactive, flags)

    def mark_inactive_valid(self) -> None:
        inactive = self._require_inactive()
        self._set_gptprio(inactive, self.gptprio(inactive).with_tries_left(1))

    def upgrade_to_inactive(self) -> None:
        inactive = self._require_inactive()
        flags = self.gptprio(inactive)
        if flags.priority != 0 or flags.successful:
            raise SignpostError(f"Inactive partition {self.os_disk} is already marked for upgrade")
        if flags.tries_left == 0:
            raise SignpostError(f"Inactive partition {self.os_disk} has not been marked valid for upgrade")
        self._set_gptprio(inactive, flags.with_priority(2).with_successful(False))
        self._set_gptprio(self.active, self.gptprio(self.active).with_priority(1))

    def cancel_upgrade(self) -> None:
        inactive = self._require_inactive()
        self._set_gptprio(inactive, self.gptprio(inactive).with_priority(0))
        self._set_gptprio(self.active, self.gptprio(self.active).with_priority(2))

    def rollback_to_inactive(self) -> None:
        inactive = self._require_inactive()
        flags = self.gptprio(inactive)
        if not flags.will_boot():
            successful = "true" if flags.successful else "false"
            raise SignpostError(
                "Inactive partition is not valid to roll back to "
                f"(priority={flags.priority} tries_left={flags.tries_left} successful={successful})"
            )
        self._set_gptprio(inactive, flags.with_priority(2))
        self._set_gptprio(self.active, self.gptprio(self.active).with_priority(1))

    def has_boot_succeeded(self) -> bool:
        return GptPrio(self.table[self.private_number].attributes).boot_has_succeeded

    def write(self) -> None:
        """Write the table (primary and backup) to the OS disk."""
        try:
            gpt.write(self.os_disk, self.table)
        except gpt.GptError as error:
            raise SignpostError(str(error)) from None

    def __str__(self) -> str:
        # Upstream's quirk: the "Set A" line shows the active set's paths and the "Set B" line the
        # inactive set's, while the flags are always A's and B's.
        lines = [f"OS disk: {self.os_disk}", f"Set A:   {self.active_set} {self.gptprio(0)}"]
        if self.inactive_set is not None:
            lines.append(f"Set B:   {self.inactive_set} {self.gptprio(1)}")
        lines.append(f"Active:  Set {SET_NAMES[self.active]}")
        following = self.next()
        lines.append("Next:    None" if following is None else f"Next:    Set {SET_NAMES[following]}")
        return "\n".join(lines) + "\n"
