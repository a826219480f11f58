"""A boot of the disk, as GRUB's ``gptprio.next`` makes it: for tests and the sandboxed update flow.

GRUB scans the BOOT partitions in table order and takes the first with the highest priority that
has a try left or has booted successfully; priority must be above 0 (strictly greater than the best
so far, which starts at 0), so ties go to set A and a successful set of priority 0 never boots.
When the chosen partition has tries left, one is used up and the table is written before booting.

``boot`` then records the chosen set's ROOT partition as the booted one in ``boot.json``, as the
running system's dm-verity root would tell signpost; ``reboot`` first empties ``$THAR_ROOT/run``
(a tmpfs) and, when the boot is to succeed, runs ``mark-successful-boot`` as the boot's
``mark-successful-boot.service`` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import gpt
from .state import BOOT, ROOT, SET_NAMES, GptPrio, State, boot_state_path

__all__ = ["BootFailed", "boot", "grub_choice", "reboot", "write_boot_state"]


class BootFailed(Exception):
    """GRUB found no partition to boot ("no such partition")."""


def write_boot_state(root: Path, os_disk: str, booted_partition: int) -> None:
    path = boot_state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"os_disk": os_disk, "booted_partition": booted_partition}) + "\n")


def grub_choice(table: gpt.Table) -> gpt.Entry | None:
    """The BOOT entry GRUB's gptprio.next picks, or None."""
    best: gpt.Entry | None = None
    best_priority = 0
    for entry in table.used():
        if entry.type_guid != BOOT:
            continue
        flags = GptPrio(entry.attributes)
        if (flags.tries_left > 0 or flags.successful) and flags.priority > best_priority:
            best, best_priority = entry, flags.priority
    return best


def boot(root: Path, os_disk: str) -> str:
    """Boot ``os_disk``: GRUB's choice (tries decremented and written), then ``boot.json`` names
    the chosen set's ROOT partition. Returns the set booted ("A" or "B"); BootFailed if none."""
    table = gpt.read(os_disk)
    chosen = grub_choice(table)
    if chosen is None:
        boot_state_path(root).unlink(missing_ok=True)
        raise BootFailed(f"no such partition: no BOOT partition of {os_disk} can boot")
    flags = GptPrio(chosen.attributes)
    if flags.tries_left > 0:
        table.set_attributes(chosen.number, flags.with_tries_left(flags.tries_left - 1).bits)
        gpt.write(os_disk, table)
    boots = [entry.number for entry in table.used() if entry.type_guid == BOOT]
    roots = [entry.number for entry in table.used() if entry.type_guid == ROOT]
    index = boots.index(chosen.number)
    write_boot_state(root, os_disk, roots[index])
    return SET_NAMES[index]


def reboot(root: Path, *, success: bool, os_disk: str | None = None) -> str:
    """Reboot the system under ``root``: a fresh ``run``, a GRUB boot, then (``success``)
    ``mark-successful-boot``. The disk is the one ``boot.json`` names unless ``os_disk`` is given."""
    if os_disk is None:
        os_disk = json.loads(boot_state_path(root).read_text())["os_disk"]
    shutil.rmtree(root / "run", ignore_errors=True)
    booted = boot(root, os_disk)
    if success:
        state = State.load(root)
        state.mark_successful_boot()
        state.write()
    return booted
