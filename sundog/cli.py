"""The `sundog` command: arguments and logging; `generate.generate` does the work.

    sundog [--socket-path PATH] [--log-level LEVEL] [--timeout SECONDS]

Exit 0 on success (or when there is nothing to generate), 1 on any error (one message on
stderr, nothing sent to the API), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from apiclient import default_socket_path

from .errors import SundogError
from .generate import generate
from .logs import LOG_LEVELS, setup_logging
from .runner import DEFAULT_TIMEOUT

__all__ = ["build_parser", "main"]

log = logging.getLogger("sundog")


def _level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"invalid log level '{text}' (use {', '.join(LOG_LEVELS)})")
    return text.lower()


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sundog",
        description="Run the setting generators of settings that are not set yet and stage their\n"
        "results in the pending transaction 'bottlerocket-launch' (not committed).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--socket-path",
        default=None,
        help="the API socket (default /run/api.sock, or $THAR_ROOT/run/api.sock when THAR_ROOT is set)",
    )
    parser.add_argument("--log-level", type=_level, default="info", help="off, error, warn, info, debug or trace")
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT,
        help=f"seconds each generator may run before it is killed (default {DEFAULT_TIMEOUT:g})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(("sundog",), args.log_level)
    socket_path = args.socket_path or default_socket_path()
    log.info("Sundog started")
    started = time.monotonic()
    try:
        report = generate(socket_path, timeout=args.timeout)
    except SundogError as exc:
        print(exc, file=sys.stderr)
        return 1
    if report.steps:
        summary = ", ".join(f"{key} {what} ({seconds:.3f} s)" for key, what, seconds in report.steps)
        log.info("Generators done in %.3f s: %s", time.monotonic() - started, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
