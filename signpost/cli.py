"""``signpost``: show and flip the OS disk's partition sets (core-kit ``signpost/src/main.rs``).

    signpost status|mark-successful-boot|clear-inactive|mark-inactive-valid|upgrade-to-inactive
             |cancel-upgrade|rollback-to-inactive|has-boot-ever-succeeded|rewrite-table

Only the first argument is read. ``--help``/``-h`` print the usage on stdout (exit 0); a missing
or unknown command prints the usage on stderr and exits 1; a failed command prints its error on
stderr and exits 1. Each command that changes bits loads the table, changes them and writes the
whole table back (primary and backup).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from thar.paths import thar_root_override

from .state import SignpostError, State

__all__ = ["USAGE", "main", "run"]

USAGE = """\
usage: signpost <SUBCOMMAND>

SUBCOMMANDS:
    status                  Show the partition sets and their priority bits
    mark-successful-boot    Mark the active partitions as successfully booted
    clear-inactive          Clear the inactive set's bits before images are written to it
    mark-inactive-valid     Mark the inactive set as holding a valid image
    upgrade-to-inactive     Make the inactive set the next to boot, once, if it was marked valid
    cancel-upgrade          Undo upgrade-to-inactive
    rollback-to-inactive    Make the inactive set the next to boot, if it can boot
    has-boot-ever-succeeded Print "true" when a boot has ever succeeded
    rewrite-table           Write the partition table back unchanged"""


def _writing(operation: Callable[[State], None]) -> Callable[[State], str]:
    def command(state: State) -> str:
        operation(state)
        state.write()
        return ""

    return command


COMMANDS: dict[str, Callable[[State], str]] = {
    "status": str,
    "mark-successful-boot": _writing(State.mark_successful_boot),
    "clear-inactive": _writing(State.clear_inactive),
    "mark-inactive-valid": _writing(State.mark_inactive_valid),
    "upgrade-to-inactive": _writing(State.upgrade_to_inactive),
    "cancel-upgrade": _writing(State.cancel_upgrade),
    "rollback-to-inactive": _writing(State.rollback_to_inactive),
    "has-boot-ever-succeeded": lambda state: "true\n" if state.has_boot_succeeded() else "",
    "rewrite-table": _writing(lambda state: None),
}


def run(command: str, root: Path | None) -> str:
    """Run one command against the system under ``root`` (None: the host); returns its stdout.
    Raises KeyError for an unknown command and SignpostError when it fails."""
    action = COMMANDS[command]
    return action(State.load(root))


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] in (["--help"], ["-h"]):
        print(USAGE)
        return 0
    if not args or args[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 1
    override = thar_root_override()
    try:
        output = run(args[0], Path(override) if override else None)
    except SignpostError as error:
        print(error, file=sys.stderr)
        return 1
    sys.stdout.write(output)
    return 0
