"""The ``host-containers`` command: arguments and logging; ``manage.manage`` does the work.

    host-containers [--socket-path PATH] [--log-level LEVEL]

Reads ``settings.host-containers`` from the API and makes each affected host container's unit
match it. ``CHANGED_SETTINGS`` (passed by thar-be-settings) limits which containers are
handled; unset or empty, all are. Exit 0 on success, 1 when the settings cannot be read or any
container could not be handled (one line per failure on stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from thar.apiclient import ApiClientError, default_socket_path, get_settings
from thar.logs import LEVELS as LOG_LEVELS
from thar.logs import setup_logging
from thar.paths import thar_root

from .errors import ApiFailed, HostContainersError
from .manage import Commands, manage, parse_host_containers

__all__ = ["build_parser", "main"]

log = logging.getLogger("host-containers")


def _level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"invalid log level '{text}' (use {', '.join(LOG_LEVELS)})")
    return text.lower()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="host-containers",
        description="Make each host container's systemd unit (host-containers@NAME.service) match "
        "settings.host-containers: its environment file, its user data, enabled and running or not.",
    )
    parser.add_argument(
        "--socket-path",
        default=None,
        help="the API socket (default /run/api.sock, or $THAR_ROOT/run/api.sock when THAR_ROOT is set)",
    )
    parser.add_argument("--log-level", type=_level, default="info", help="off, error, warn, info, debug or trace")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, "host-containers")
    socket_path = args.socket_path or default_socket_path()
    changed = os.environ.get("CHANGED_SETTINGS", "").split()
    log.info("host-containers started")
    try:
        try:
            settings = get_settings(socket_path, prefix="settings.host-containers")
        except ApiClientError as exc:
            raise ApiFailed(exc) from exc
        containers = parse_host_containers(settings)
        manage(containers, changed, thar_root(), Commands.from_environ())
    except HostContainersError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
