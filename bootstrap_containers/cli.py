"""``bootstrap-containers``: the command line (Bottlerocket's subcommands and flags).

    bootstrap-containers [--log-level LEVEL] [-c|--config-path PATH] create-containers
    bootstrap-containers [--log-level LEVEL] mark-bootstrap --container-id NAME --mode MODE

The global flags may also follow the subcommand, as Bottlerocket's parser allows. Errors go to
stderr as one line and exit 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from thar.apiclient.client import default_socket_path
from thar.logs import LEVELS, setup_logging

from .config import MODES
from .containers import CONFIG_PATH, create_containers, mark_bootstrap
from .errors import BootstrapError

__all__ = ["build_parser", "main"]


def _globals(suppress: bool) -> argparse.ArgumentParser:
    """The global flags; on a subcommand they default to SUPPRESS so a value given before the
    subcommand is not reset."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=list(LEVELS),
        default=argparse.SUPPRESS if suppress else "info",
        help="(default info)",
    )
    parser.add_argument(
        "-c",
        "--config-path",
        type=Path,
        default=argparse.SUPPRESS if suppress else None,
        help=f"the rendered bootstrap containers (default $THAR_ROOT/{CONFIG_PATH})",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bootstrap-containers",
        description="Prepare the units of settings.bootstrap-containers, and mark once-mode containers off.",
        parents=[_globals(False)],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    sub.add_parser(
        "create-containers",
        parents=[_globals(True)],
        help="write each container's environment file, drop-in and user data; enable or disable its unit",
    )
    mark = sub.add_parser(
        "mark-bootstrap", parents=[_globals(True)], help="after a container ran: set its mode to off unless always"
    )
    mark.add_argument("--container-id", required=True, help="the bootstrap container's name")
    mark.add_argument("--mode", required=True, choices=MODES, help="the mode the container ran with")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, "bootstrap-containers")
    try:
        if args.command == "create-containers":
            create_containers(args.config_path)
        else:
            mark_bootstrap(args.container_id, args.mode, default_socket_path())
    except BootstrapError as err:
        print(f"bootstrap-containers: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
