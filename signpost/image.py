"""Disk images with Bottlerocket's partition layout (twoliter's partyplanner, in-place updates),
in tiny sizes: the OS disk of tests and of the sandboxed update flow.

Partition numbers match a real image's: BIOS-BOOT 1, EFI-SYSTEM 2, BOOT/ROOT/HASH/RESERVED-A
3-6, EFI-BACKUP 7, BOOT/ROOT/HASH/RESERVED-B 8-11, PRIVATE 12, DATA 13. A single-set image has no
B bank (and no EFI-BACKUP): 1-6, then PRIVATE 7 and DATA 8. Initial bits as built: BOOT-A
priority 1 and successful, BOOT-B all clear.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from . import gpt
from .state import BOOT, HASH, PRIVATE, ROOT, GptPrio

__all__ = ["BIOS_BOOT", "DATA", "EFI_BACKUP", "EFI_SYSTEM", "RESERVED", "make_disk"]

BIOS_BOOT = uuid.UUID("21686148-6449-6e6f-744e-656564454649")
EFI_SYSTEM = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
RESERVED = uuid.UUID("0c5d99a5-d331-4147-baef-08e2b855bdc9")
EFI_BACKUP = uuid.UUID("b39ce39c-0a00-b4ab-2d11-f18f8237a21c")
DATA = uuid.UUID("626f7474-6c65-6474-6861-726d61726b73")

MIB = 1 << 20
INITIAL_A = GptPrio(0).with_priority(1).with_successful(True).bits


def make_disk(
    path: Path,
    *,
    dual: bool = True,
    size: int = 16 * MIB,
    boot: int = 256 * 1024,
    root: int = 2 * MIB,
    hash: int = 256 * 1024,
) -> gpt.Table:
    """Create the image at ``path`` (sparse; it must not exist); sizes in bytes, per partition."""

    def bank(letter: str, attributes: int) -> list[gpt.NewPartition]:
        return [
            gpt.NewPartition(BOOT, f"BOTTLEROCKET-BOOT-{letter}", boot // 512, attributes),
            gpt.NewPartition(ROOT, f"BOTTLEROCKET-ROOT-{letter}", root // 512),
            gpt.NewPartition(HASH, f"BOTTLEROCKET-HASH-{letter}", hash // 512),
            gpt.NewPartition(RESERVED, f"BOTTLEROCKET-RESERVED-{letter}", 64),
        ]

    layout = [gpt.NewPartition(BIOS_BOOT, "BIOS-BOOT", 64), gpt.NewPartition(EFI_SYSTEM, "EFI-SYSTEM", 256)]
    layout += bank("A", INITIAL_A)
    if dual:
        layout += [gpt.NewPartition(EFI_BACKUP, "EFI-BACKUP", 256), *bank("B", 0)]
    layout += [
        gpt.NewPartition(PRIVATE, "BOTTLEROCKET-PRIVATE", 256),
        gpt.NewPartition(DATA, "BOTTLEROCKET-DATA", 512),
    ]
    return gpt.create(path, size, layout, align=8)
