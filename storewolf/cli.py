"""The ``storewolf`` command: argument parsing and logging only; ``seed.seed`` does the work.

Usage errors (an unknown argument, a missing value, a missing required argument) print usage
and exit 2; any runtime error prints its message on stderr and exits 1; success exits 0.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from thar import logs
from thar.datastore import Version, VersionError

from .defaults import find_defaults, load_variant_defaults, os_version, read_defaults, thar_root
from .errors import StorewolfError
from .seed import INVENTORY_PATH, seed

__all__ = ["build_parser", "main"]

LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
"""The `--log-level` names this command takes (`thar.logs.LEVELS` less `off`)."""

EXAMPLES = """\
examples:
  storewolf --data-store-base-path /var/lib/bottlerocket/datastore \\
      --inventory-file-symlink-path /var/lib/bottlerocket/inventory/application.json
  storewolf --data-store-base-path /tmp/ds --version 1.26.1 --variant thar-dev
  storewolf --data-store-base-path /tmp/ds --defaults ./my-variant/defaults.d

Without --defaults or --variant: $THAR_ROOT/etc/storewolf/defaults.toml if it exists, else the
directory $THAR_ROOT/etc/storewolf/defaults.d/ (validated against the model of the variant
whose VARIANT_ID $THAR_ROOT/usr/lib/os-release names, when it is one of thar's), else the
thar-dev variant. Without --version: VERSION_ID of $THAR_ROOT/usr/lib/os-release, else of the
variant's os-release. THAR_ROOT defaults to /.
"""


def _version(text: str) -> Version:
    try:
        return Version.parse(text)
    except VersionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    """storewolf's arguments: Bottlerocket's, plus --defaults and --variant."""
    parser = argparse.ArgumentParser(
        prog="storewolf",
        description="Create the datastore if it does not exist and add the defaults it lacks: default\n"
        "settings to the pending transaction 'bottlerocket-launch'; metadata, services and\n"
        "configuration files to live. Nothing already in live is overwritten.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--data-store-base-path", required=True, type=Path, metavar="PATH",
        help="the datastore base directory D, e.g. /var/lib/bottlerocket/datastore (not D/current)",
    )  # fmt: skip
    parser.add_argument(
        "--version", type=_version, metavar="X.Y.Z",
        help="the OS version a new datastore is created for (default: VERSION_ID of the os-release)",
    )  # fmt: skip
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--defaults", type=Path, metavar="FILE_OR_DEFAULTS.D_DIR",
        help="a merged defaults TOML file, or a defaults.d directory merged in file-name order (not validated)",
    )  # fmt: skip
    source.add_argument(
        "--variant", metavar="NAME_OR_DIR",
        help="one of thar's variants by name (thar-dev, thar-k8s) or a variant directory; "
        "its defaults are validated against its model before anything is written",
    )  # fmt: skip
    parser.add_argument(
        "--inventory-file-symlink-path", type=Path, metavar="PATH",
        help="where to create the application inventory symlink (none when not given)",
    )  # fmt: skip
    parser.add_argument(
        "--inventory-file-path", type=Path, metavar="PATH",
        help=f"target of the inventory symlink (default: $THAR_ROOT{INVENTORY_PATH})",
    )  # fmt: skip
    parser.add_argument(
        "--log-level", type=str.lower, choices=list(LOG_LEVELS), default="info", metavar="trace|debug|info|warn|error",
        help="default: info",
    )  # fmt: skip
    return parser


def setup_logging(level: str) -> None:
    """Bottlerocket's SimpleLogger: ``HH:MM:SS [LEVEL] message``; errors to stderr, the rest
    to stdout."""
    logs.setup_logging(level, "storewolf")


def main(argv: Sequence[str] | None = None) -> int:
    """Run storewolf; return the exit status (argparse exits 2 itself on usage errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.inventory_file_path is not None and args.inventory_file_symlink_path is None:
        parser.error("--inventory-file-path needs --inventory-file-symlink-path")
    setup_logging(args.log_level)
    log = logging.getLogger("storewolf")
    log.info("Storewolf started")
    root = thar_root()
    try:
        if args.defaults is not None:
            defaults = read_defaults(args.defaults)
        elif args.variant is not None:
            defaults = load_variant_defaults(args.variant)
        else:
            defaults = find_defaults(root)
        log.info("Defaults: %s", defaults.describe())
        inventory = None
        if args.inventory_file_symlink_path is not None:
            target = args.inventory_file_path or root / INVENTORY_PATH.relative_to("/")
            inventory = (target, args.inventory_file_symlink_path)
        version = args.version or functools.partial(os_version, root, defaults)
        seed(args.data_store_base_path, defaults, version, inventory=inventory)
    except StorewolfError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
