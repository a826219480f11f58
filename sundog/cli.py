"""The `sundog` command: arguments and logging; `generate.generate` does the work.

    sundog [--socket-path PATH] [--log-level LEVEL] [--timeout SECONDS] [--timeline FILE]

Exit 0 on success (or when there is nothing to generate), 1 on any error (one message on
stderr, nothing sent to the API), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from thar.apiclient import default_socket_path
from thar.atomic import write_atomic
from thar.logs import LEVELS as LOG_LEVELS
from thar.logs import setup_logging
from thar.paths import thar_root

from .errors import SundogError
from .generate import Report, generate
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
    parser.add_argument(
        "--timeline",
        default=None,
        help="where to write each generator's outcome and duration as JSON, read by the apiserver's "
        "/metrics (default $THAR_ROOT/run/thar/generators.json, /run/thar/generators.json without THAR_ROOT; "
        "'none': do not write it)",
    )
    return parser


def default_timeline_path() -> Path:
    """`$THAR_ROOT/run/thar/generators.json`, or `/run/thar/generators.json` without THAR_ROOT."""
    return thar_root() / "run" / "thar" / "generators.json"


def write_timeline(path: Path, report: Report, total: float) -> None:
    """Write the run's generators (setting, outcome, seconds) and total as JSON, atomically.

    A file that cannot be written is a warning, never a failed boot: the timeline is for metrics.
    """
    data = {
        "generators": [{"setting": key, "result": what, "seconds": round(sec, 6)} for key, what, sec in report.steps],
        "total": round(total, 6),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data), sync=False)
    except OSError as exc:
        log.warning("Cannot write the generator timeline %s: %s", path, exc.strerror or exc)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, "sundog")
    socket_path = args.socket_path or default_socket_path()
    log.info("Sundog started")
    started = time.monotonic()
    try:
        report = generate(socket_path, timeout=args.timeout)
    except SundogError as exc:
        print(exc, file=sys.stderr)
        return 1
    total = time.monotonic() - started
    if report.steps:
        summary = ", ".join(f"{key} {what} ({seconds:.3f} s)" for key, what, seconds in report.steps)
        log.info("Generators done in %.3f s: %s", total, summary)
    if args.timeline != "none":
        write_timeline(Path(args.timeline) if args.timeline else default_timeline_path(), report, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
