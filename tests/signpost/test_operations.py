"""Every signpost command: the bits it leaves (read back by sgdisk), its refusals and their texts,
``status``, and the bits it must not touch."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.signpost.conftest import (
    BOOT_A,
    BOOT_B,
    EVER,
    PRIVATE,
    System,
    bit,
    bits,
    make_system,
    sgdisk,
    verify,
)
from thar.signpost import bootsim, gpt, image
from thar.signpost.cli import USAGE
from thar.signpost.state import GptPrio


def edit(system: System, number: int, **fields: object) -> None:
    """Change entry ``number``'s fields in the image's table (sgdisk would do it too, but it
    sleeps a second after each write; what the tests assert is read back by sgdisk)."""
    table = gpt.read(system.disk)
    table.entries[number - 1] = dataclasses.replace(table[number], **fields)  # type: ignore[arg-type]
    gpt.write(system.disk, table)


def set_bits(system: System, number: int, priority: int, tries: int, successful: bool) -> None:
    """Give BOOT partition ``number`` these gptprio bits, keeping the others."""
    flags = GptPrio(gpt.read(system.disk)[number].attributes)
    edit(
        system, number, attributes=flags.with_priority(priority).with_tries_left(tries).with_successful(successful).bits
    )


def status_text(disk: Path, active: str, a: str, b: str, next_set: str) -> str:
    set_a = f"boot={disk}3 root={disk}4 hash={disk}5"
    set_b = f"boot={disk}8 root={disk}9 hash={disk}10"
    first, second = (set_a, set_b) if active == "A" else (set_b, set_a)
    return f"OS disk: {disk}\nSet A:   {first} {a}\nSet B:   {second} {b}\nActive:  Set {active}\nNext:    {next_set}\n"


def test_status_of_a_fresh_image(system: System) -> None:
    assert system.ok("status") == status_text(
        system.disk,
        "A",
        "priority=1 tries_left=0 successful=true",
        "priority=0 tries_left=0 successful=false",
        "Set A",
    )


def test_status_with_b_active_shows_the_active_paths_on_the_set_a_line(system: System) -> None:
    """Upstream's quirk: paths are active/inactive, flags are A's/B's."""
    bootsim.write_boot_state(system.root, str(system.disk), 10)  # HASH-B identifies set B too
    set_bits(system, BOOT_B, 2, 0, True)
    assert system.ok("status") == status_text(
        system.disk,
        "B",
        "priority=1 tries_left=0 successful=true",
        "priority=2 tries_left=0 successful=true",
        "Set B",
    )


@pytest.mark.parametrize(
    ("a", "b", "next_set"),
    [
        ((1, 0, True), (1, 0, True), "Set A"),  # a tie goes to A
        ((1, 0, True), (2, 1, False), "Set B"),
        ((0, 0, False), (0, 0, True), "Set B"),  # successful is enough for signpost, even at priority 0
        ((0, 5, False), (3, 0, False), "None"),
    ],
)
def test_status_next(system: System, a: tuple[int, int, bool], b: tuple[int, int, bool], next_set: str) -> None:
    set_bits(system, BOOT_A, *a)
    set_bits(system, BOOT_B, *b)
    assert system.ok("status").splitlines()[-1] == f"Next:    {next_set}"


@pytest.mark.parametrize(
    ("command", "before_a", "before_b", "after_a", "after_b"),
    [
        ("clear-inactive", (1, 0, True), (2, 3, True), (1, 0, True), (0, 0, False)),
        ("mark-inactive-valid", (1, 0, True), (5, 0, True), (1, 0, True), (5, 1, True)),
        ("upgrade-to-inactive", (1, 0, True), (0, 1, False), (1, 0, True), (2, 1, False)),
        ("upgrade-to-inactive", (7, 2, False), (0, 4, False), (1, 2, False), (2, 4, False)),
        ("cancel-upgrade", (1, 0, True), (2, 1, False), (2, 0, True), (0, 1, False)),
        ("cancel-upgrade", (0, 0, False), (0, 0, False), (2, 0, False), (0, 0, False)),  # no check at all
        ("rollback-to-inactive", (2, 0, True), (1, 0, True), (1, 0, True), (2, 0, True)),
        ("rollback-to-inactive", (1, 0, True), (1, 1, False), (1, 0, True), (2, 1, False)),
        ("mark-successful-boot", (2, 0, False), (1, 0, True), (2, 0, True), (1, 0, True)),
        ("rewrite-table", (3, 4, False), (5, 6, True), (3, 4, False), (5, 6, True)),
    ],
)
def test_each_command_leaves_these_bits(
    system: System,
    command: str,
    before_a: tuple[int, int, bool],
    before_b: tuple[int, int, bool],
    after_a: tuple[int, int, bool],
    after_b: tuple[int, int, bool],
) -> None:
    set_bits(system, BOOT_A, *before_a)
    set_bits(system, BOOT_B, *before_b)
    assert system.ok(command) == ""
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == (after_a, after_b)
    verify(system.disk)


def test_commands_act_on_the_inactive_set_when_b_is_running(system: System) -> None:
    bootsim.write_boot_state(system.root, str(system.disk), 9)
    set_bits(system, BOOT_B, 2, 0, True)
    system.ok("clear-inactive")
    assert bits(system.disk, BOOT_A) == (0, 0, False)
    system.ok("mark-inactive-valid")
    system.ok("upgrade-to-inactive")
    assert (bits(system.disk, BOOT_A), bits(system.disk, BOOT_B)) == ((2, 1, False), (1, 0, True))


def test_mark_successful_boot_records_that_a_boot_ever_succeeded(system: System) -> None:
    assert system.ok("has-boot-ever-succeeded") == ""
    assert not bit(system.disk, PRIVATE, EVER)
    system.ok("mark-successful-boot")
    assert bit(system.disk, PRIVATE, EVER)
    assert system.ok("has-boot-ever-succeeded") == "true\n"


def test_upgrade_to_inactive_refusals(system: System) -> None:
    disk = system.disk
    assert system.fails("upgrade-to-inactive") == f"Inactive partition {disk} has not been marked valid for upgrade\n"
    for b in ((2, 1, False), (0, 1, True)):
        set_bits(system, BOOT_B, *b)
        assert system.fails("upgrade-to-inactive") == f"Inactive partition {disk} is already marked for upgrade\n"
        assert bits(disk, BOOT_B) == b and bits(disk, BOOT_A) == (1, 0, True)


def test_rollback_to_an_unbootable_set_is_refused(system: System) -> None:
    set_bits(system, BOOT_B, 3, 0, False)
    assert system.fails("rollback-to-inactive") == (
        "Inactive partition is not valid to roll back to (priority=3 tries_left=0 successful=false)\n"
    )
    assert bits(system.disk, BOOT_B) == (3, 0, False)


def test_a_single_set_disk_has_no_inactive_set(tmp_path: Path) -> None:
    system = make_system(tmp_path, dual=False)
    disk = system.disk
    for command in ("clear-inactive", "mark-inactive-valid", "upgrade-to-inactive", "cancel-upgrade"):
        assert system.fails(command) == f"Inactive partition {disk} is not available\n"
    assert system.ok("status") == (
        f"OS disk: {disk}\nSet A:   boot={disk}3 root={disk}4 hash={disk}5 priority=1 tries_left=0 successful=true\n"
        "Active:  Set A\nNext:    Set A\n"
    )
    system.ok("mark-successful-boot")
    assert system.ok("has-boot-ever-succeeded") == "true\n"
    set_bits(system, 3, 0, 0, False)
    assert system.ok("status").endswith("Next:    None\n")


def test_every_other_attribute_bit_is_preserved(system: System) -> None:
    others = ["-A", "3:set:0", "-A", "3:set:60", "-A", "8:set:2", "-A", "8:set:63", "-A", "12:set:58"]
    sgdisk(*others, str(system.disk))
    for command in ("mark-inactive-valid", "upgrade-to-inactive", "cancel-upgrade", "clear-inactive"):
        system.ok(command)
    system.ok("mark-successful-boot")
    for number, which in ((3, 0), (3, 60), (8, 2), (8, 63), (12, 58)):
        assert bit(system.disk, number, which), (number, which)
    assert bits(system.disk, BOOT_A) == (2, 0, True) and bit(system.disk, PRIVATE, EVER)


def test_sets_are_found_by_type_guid_not_by_label(system: System) -> None:
    edit(system, 3, name="BOTTLEROCKET-BOOT-B")
    edit(system, 8, name="BOTTLEROCKET-BOOT-A")
    assert "Partition name: 'BOTTLEROCKET-BOOT-B'" in sgdisk("-i", "3", str(system.disk))
    assert f"Set A:   boot={system.disk}3 " in system.ok("status")


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (3, "Failed to find guid partition for set A"),  # the only BOOT left is 8: set A's
        (9, "Failed to find guid partition for set B"),  # ROOT-B gone
        (12, "Failed to find guid partition for set A"),  # PRIVATE (upstream says set A)
    ],
)
def test_missing_partitions(system: System, number: int, message: str) -> None:
    edit(system, number, type_guid=image.DATA)
    if number == 3:
        # with BOOT-A gone, BOOT-B becomes set A's boot and there is no second set
        assert system.ok("status").startswith(f"OS disk: {system.disk}\nSet A:   boot={system.disk}8 ")
        edit(system, 8, type_guid=image.DATA)
    assert system.fails("status") == message + "\n"


def test_a_booted_partition_in_neither_set(system: System) -> None:
    bootsim.write_boot_state(system.root, str(system.disk), 12)
    disk = system.disk
    assert system.fails("status") == (
        f"Active partition {disk}12 not in either detected partition set "
        f'([PartitionSet {{ boot: "{disk}3", root: "{disk}4", hash: "{disk}5" }}, '
        f'PartitionSet {{ boot: "{disk}8", root: "{disk}9", hash: "{disk}10" }}])\n'
    )


def test_a_missing_or_bad_boot_state_is_an_error(system: System) -> None:
    path = system.root / "run/signpost/boot.json"
    path.write_text(json.dumps({"os_disk": str(system.disk)}))
    assert system.fails("status").startswith(f"Failed to read the boot state {path}: ")
    path.unlink()
    assert system.fails("status").startswith(f"Failed to read the boot state {path}: ")


def test_usage(system: System) -> None:
    for args in ((), ("bogus",), ("Status",)):
        status, out, err = system.signpost(*args)
        assert (status, out, err) == (1, "", USAGE + "\n")
    assert system.ok("has-boot-ever-succeeded", "extra", "args") == ""  # only argv[1] is read


def test_the_module_runs_as_a_program(system: System) -> None:
    env = {"THAR_ROOT": str(system.root), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "thar.signpost", "upgrade-to-inactive"], capture_output=True, text=True, env=env
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"Inactive partition {system.disk} has not been marked valid for upgrade\n"
    done = subprocess.run([sys.executable, "-m", "thar.signpost", "status"], capture_output=True, text=True, env=env)
    assert (done.returncode, done.stdout.splitlines()[-1]) == (0, "Next:    Set A")
