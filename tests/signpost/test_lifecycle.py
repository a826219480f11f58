"""The A/B lifecycle of spec §7.7 through GRUB's choice (bootsim): an update gets one boot
attempt; unless that boot is marked successful, the next boot is the old set again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.signpost.conftest import BOOT_A, BOOT_B, EVER, PRIVATE, System, bit, bits, verify
from thar.signpost import bootsim, gpt
from thar.signpost.state import GptPrio


def stage_update(system: System) -> None:
    """What ``update-image`` then ``update-apply`` do to the bits."""
    system.ok("clear-inactive")
    system.ok("mark-inactive-valid")
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == ((1, 0, True), (0, 1, False))
    system.ok("upgrade-to-inactive")
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == ((1, 0, True), (2, 1, False))


def active(system: System) -> str:
    return system.ok("status").splitlines()[-2]


def test_a_fresh_image_boots_a(system: System) -> None:
    assert bootsim.reboot(system.root, success=True) == "A"
    assert bits(system.disk, BOOT_A) == (1, 0, True)  # no tries to use up: A is successful
    assert active(system) == "Active:  Set A"


def test_an_update_that_boots_is_kept(system: System) -> None:
    stage_update(system)
    assert bootsim.reboot(system.root, success=True) == "B"
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == ((1, 0, True), (2, 0, True))
    assert bit(system.disk, PRIVATE, EVER)
    assert active(system) == "Active:  Set B"
    assert bootsim.reboot(system.root, success=True) == "B"  # and stays
    verify(system.disk)


def test_a_failed_boot_rolls_back_to_a(system: System) -> None:
    stage_update(system)
    (system.root / "run/thar-be-updates").mkdir(parents=True)
    assert bootsim.reboot(system.root, success=False) == "B"  # the one attempt, used up by GRUB
    assert not (system.root / "run/thar-be-updates").exists()  # run is a tmpfs
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == ((1, 0, True), (2, 0, False))
    assert active(system) == "Active:  Set B"
    assert system.ok("status").splitlines()[-1] == "Next:    Set A"
    assert bootsim.reboot(system.root, success=False) == "A"  # automatic rollback
    assert bits(system.disk, BOOT_B) == (2, 0, False)
    assert active(system) == "Active:  Set A"
    # the failed update can be re-staged: update-image clears and re-validates B
    stage_update(system)
    assert bootsim.reboot(system.root, success=True) == "B"


def test_cancel_upgrade_instead_of_rebooting(system: System) -> None:
    stage_update(system)
    system.ok("cancel-upgrade")
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == ((2, 0, True), (0, 1, False))
    system.ok("upgrade-to-inactive")  # re-apply allowed
    system.ok("cancel-upgrade")
    assert bootsim.reboot(system.root, success=True) == "A"


def test_manual_rollback_after_a_good_update(system: System) -> None:
    stage_update(system)
    bootsim.reboot(system.root, success=True)
    system.ok("rollback-to-inactive")
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == ((2, 0, True), (1, 0, True))
    assert bootsim.reboot(system.root, success=True) == "A"
    system.ok("rollback-to-inactive")  # and back to B, which has booted before
    assert bootsim.reboot(system.root, success=True) == "B"


def set_flags(disk: Path, number: int, priority: int, tries: int, successful: bool) -> None:
    table = gpt.read(disk)
    flags = GptPrio(table[number].attributes).with_priority(priority).with_tries_left(tries)
    table.entries[number - 1] = dataclasses.replace(table[number], attributes=flags.with_successful(successful).bits)
    gpt.write(disk, table)


@pytest.mark.parametrize(
    ("a", "b", "chosen", "after_a", "after_b"),
    [
        ((1, 0, True), (1, 0, True), "A", (1, 0, True), (1, 0, True)),  # a tie goes to A
        ((1, 3, False), (1, 0, True), "A", (1, 2, False), (1, 0, True)),
        ((0, 0, True), (1, 2, False), "B", (0, 0, True), (1, 1, False)),  # priority 0 never boots
        ((1, 0, False), (3, 0, True), "B", (1, 0, False), (3, 0, True)),
    ],
)
def test_grub_choice(
    system: System,
    a: tuple[int, int, bool],
    b: tuple[int, int, bool],
    chosen: str,
    after_a: tuple[int, int, bool],
    after_b: tuple[int, int, bool],
) -> None:
    set_flags(system.disk, BOOT_A, *a)
    set_flags(system.disk, BOOT_B, *b)
    assert bootsim.boot(system.root, str(system.disk)) == chosen
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == (after_a, after_b)


def test_nothing_to_boot(system: System) -> None:
    set_flags(system.disk, BOOT_A, 0, 0, True)  # signpost would call it bootable; GRUB does not
    with pytest.raises(bootsim.BootFailed, match="no such partition"):
        bootsim.reboot(system.root, success=True)
    assert not (system.root / "run/signpost/boot.json").exists()
