"""``thar-record-restart SERVICE``: the restart command of the sandbox variant (thar-dev).

Instead of restarting anything on the host, it appends one line to
``$THAR_ROOT/run/thar/restarts.log``: the time, the service, and the changed settings that
thar-be-settings passes in ``CHANGED_SETTINGS`` (empty when everything was applied). Tests and
users of a sandbox read that log to see what a real host would have restarted.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["main", "restart_log"]


def restart_log() -> Path:
    """Where restarts are recorded: ``$THAR_ROOT/run/thar/restarts.log`` (THAR_ROOT default ``/``)."""
    return Path(os.environ.get("THAR_ROOT", "/")) / "run" / "thar" / "restarts.log"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0] or args[0].startswith("-"):
        print("usage: thar-record-restart SERVICE", file=sys.stderr)
        return 2
    log = restart_log()
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as f:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            f.write(f"{stamp} {args[0]} {os.environ.get('CHANGED_SETTINGS', '')}".rstrip() + "\n")
    except OSError as exc:
        print(f"thar-record-restart: cannot write {log}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
