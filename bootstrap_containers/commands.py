"""``bootstrap-commands``: Bottlerocket's bootstrap-commands (core-kit
``sources/bootstrap-commands/src/main.rs``), run by ``bootstrap-commands.service`` before
``preconfigured.target``.

    bootstrap-commands [--log-level LEVEL] [-c|--config-path PATH]

Reads the rendered ``/etc/bootstrap-commands/bootstrap-commands.toml`` (below ``$THAR_ROOT``
when it is set) and goes through the entries in name order: an ``off`` entry is skipped; the
others run their apiclient command lines one after the other, stopping at the first that
fails; a ``once`` entry that succeeded is then set to ``off`` through the API. A failing
essential entry ends the run with exit status 1 (the entries after it do not run), which fails
the unit and so the boot; a failing non-essential entry is logged and the next one runs.

Each command line runs in this process, through thar's apiclient CLI (``apiclient.cli.main``):
it is the apiclient of the running thar whatever ``PATH`` the unit has (a host's thar lives in
its own bin directory), and no interpreter is started per command.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from thar.apiclient.client import default_socket_path
from thar.logs import LEVELS, setup_logging
from thar.paths import thar_root

from .config import BootstrapCommand, load_commands
from .containers import turn_off
from .errors import BootstrapCommandFailed, BootstrapError

__all__ = ["CONFIG_PATH", "handle_bootstrap_command", "main", "run_apiclient", "run_bootstrap_commands"]

CONFIG_PATH = "etc/bootstrap-commands/bootstrap-commands.toml"  # below the root

log = logging.getLogger("bootstrap-commands")


def run_apiclient(command: Sequence[str]) -> int:
    """Run one ``["apiclient", ...]`` command line through thar's apiclient CLI; its exit
    status (0 success, 1 failure, 2 usage)."""
    from thar.apiclient.cli import main as apiclient

    try:
        code = apiclient(list(command[1:]))
    except SystemExit as exit_:  # a usage path that exits instead of returning
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def handle_bootstrap_command(entry: BootstrapCommand, socket_path: str) -> str | None:
    """Run one entry (see the module's text); None on success (or when it is off), else why it failed."""
    name = entry.name
    if entry.mode == "off":
        log.info("Bootstrap command mode for '%s' is 'off'", name)
        return None
    log.info("Processing bootstrap command '%s' ...", name)
    for command in entry.commands:
        shown = shlex.join(command)
        log.info("Running '%s'", shown)
        code = run_apiclient(command)
        if code != 0:
            return f"'{shown}' exited with status {code}"
    if entry.mode == "once":
        log.info("Turning off bootstrap command '%s'", name)
        try:
            turn_off(socket_path, "bootstrap-commands", name)
        except BootstrapError as err:
            return str(err)
    log.info("Successfully ran bootstrap command '%s'", name)
    return None


def run_bootstrap_commands(config_path: Path | None = None, socket_path: str | None = None) -> list[str]:
    """Every entry of the rendered file, in name order; the names of the non-essential entries
    that failed. Raises ``BootstrapCommandFailed`` at the first essential one that fails,
    ``ConfigError`` when the file cannot be read."""
    path = config_path or thar_root() / CONFIG_PATH
    socket = socket_path or default_socket_path()
    failed = []
    for entry in load_commands(path):
        reason = handle_bootstrap_command(entry, socket)
        if reason is None:
            continue
        if entry.essential:
            raise BootstrapCommandFailed(entry.name, reason)
        log.error("Bootstrap command '%s' failed: %s; it is not essential, going on", entry.name, reason)
        failed.append(entry.name)
    return failed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bootstrap-commands",
        description="Run the bootstrap commands of settings.bootstrap-commands, in name order.",
    )
    parser.add_argument("--log-level", default="info", type=str.lower, choices=list(LEVELS), help="(default info)")
    parser.add_argument(
        "-c",
        "--config-path",
        type=Path,
        help=f"the rendered bootstrap commands (default $THAR_ROOT/{CONFIG_PATH})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, "bootstrap-commands")
    try:
        run_bootstrap_commands(args.config_path)
    except BootstrapError as err:
        print(f"bootstrap-commands: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
