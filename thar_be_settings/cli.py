"""`thar-be-settings`: render configuration files and restart services after settings change.

```
thar-be-settings [--all] [--daemon] [--socket-path PATH] [--log-level LEVEL]
                 [--root DIR] [--dry-run] [--no-restart] [--report-fd N]
```

Without `--all`, the changed keys are read from stdin as a JSON array of strings. Exit status:
0 success (or nothing affected, or the `--daemon` parent), 1 any runtime error (its message on
stderr), 2 a usage error; `-h`/`--help` prints the usage on stdout and exits 0. With
`--report-fd N`, a JSON report of every file written and service restarted is written to file
descriptor N at exit (`thar_be_settings.report`). See README.md and spec/thar-be-settings.md.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from thar.paths import thar_root_override
from thar.thar_be_settings.errors import ApplierError, UsageError
from thar.thar_be_settings.log import LEVELS, log
from thar.thar_be_settings.report import Report, write_report

__all__ = ["Arguments", "main", "parse_args"]

USAGE = """\
Usage: thar-be-settings [ --all | (changed keys as a JSON array on stdin) ]
            [ --daemon ]
            [ --socket-path PATH ]
            [ --log-level trace|debug|info|warn|error|off ]
            [ --root DIR ]      files and templates under DIR (default: $THAR_ROOT, else /)
            [ --dry-run ]       print what would change and restart; change nothing
            [ --no-restart ]    write files but run no restart command
            [ --report-fd N ]   at exit, write a JSON report of the files and restarts to fd N
"""


@dataclass(slots=True)
class Arguments:
    all: bool = False
    daemon: bool = False
    socket_path: str | None = None
    log_level: str = "info"
    root: str | None = None
    dry_run: bool = False
    restart: bool = True
    report_fd: int | None = None


def parse_args(argv: list[str]) -> Arguments:
    """Bottlerocket's flags plus thar's; a repeated option's last value wins. `UsageError` otherwise."""
    args = Arguments()
    rest = iter(argv)
    for arg in rest:
        if arg == "--all":
            args.all = True
        elif arg == "--daemon":
            args.daemon = True
        elif arg == "--dry-run":
            args.dry_run = True
        elif arg == "--no-restart":
            args.restart = False
        elif arg in ("--socket-path", "--log-level", "--root", "--report-fd"):
            value = next(rest, None)
            if value is None:
                raise UsageError(f"Did not give argument to {arg}")
            if arg == "--report-fd":
                if not value.isdigit() or int(value) < 3:
                    raise UsageError(f"Invalid file descriptor '{value}' for --report-fd (3 or more)")
                args.report_fd = int(value)
            elif arg == "--socket-path":
                args.socket_path = value
            elif arg == "--root":
                args.root = value
            else:
                if value.lower() not in LEVELS:
                    raise UsageError(f"Invalid log level '{value}'")
                args.log_level = value.lower()
        else:
            raise UsageError(f"Unknown argument '{arg}'")
    return args


def _usage(message: str) -> int:
    sys.stderr.write(f"{message}\n\n{USAGE}")
    return 2


def _run(args: Arguments, report: Report | None) -> None:
    from thar.thar_be_settings.applier import Options, apply_all, apply_keys, parse_keys

    root_text = args.root if args.root is not None else thar_root_override()
    root = Path(os.path.abspath(root_text)) if root_text else None
    if args.socket_path is not None:
        socket_path = args.socket_path
    elif root is not None:
        socket_path = str(root / "run" / "api.sock")
    else:
        socket_path = "/run/api.sock"
    options = Options(socket_path=socket_path, root=root, dry_run=args.dry_run, restart=args.restart, report=report)
    if args.all:
        apply_all(options)
    else:
        log.info("Parsing stdin for updated settings")
        apply_keys(parse_keys(sys.stdin.read()), options)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(USAGE)
        return 0
    try:
        args = parse_args(argv)
    except UsageError as exc:
        return _usage(str(exc))
    log.set_level(args.log_level)
    log.all_to_stderr = args.dry_run  # stdout is the plan
    if args.daemon:
        try:
            pid = os.fork()
        except OSError as exc:
            sys.stderr.write(f"Failed to fork child: {exc}\n")
            return 1
        if pid != 0:
            return 0
    log.info("thar-be-settings started")
    report = Report() if args.report_fd is not None else None
    error: str | None = None
    try:
        _run(args, report)
    except ApplierError as exc:
        error = str(exc)
        sys.stderr.write(f"{exc}\n")
        sys.stderr.flush()
        return 1
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if report is not None and args.report_fd is not None:
            write_report(args.report_fd, report, error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
