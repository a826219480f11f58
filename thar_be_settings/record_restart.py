"""``thar-record-restart SERVICE``: the restart command of the sandbox variant (thar-dev).

Instead of restarting anything on the host, it appends one line to
``$THAR_ROOT/run/thar/restarts.log``: the time, the service, and the changed settings that
thar-be-settings passes in ``CHANGED_SETTINGS`` (empty when everything was applied). Tests and
users of a sandbox read that log to see what a real host would have restarted.

It comes in two forms that behave alike: this module's ``main`` (the ``thar-record-restart``
console script) and ``SCRIPT``, the same program as a POSIX shell script, which the sandbox
boot installs as ``DIR/usr/bin/thar-record-restart`` (first on the boot's ``PATH``): an
``--all`` run restarts every service one after the other, and a shell starts in a fraction of
the time a Python interpreter needs.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from thar.paths import thar_root

__all__ = ["SCRIPT", "main", "restart_log"]


def restart_log() -> Path:
    """Where restarts are recorded: ``$THAR_ROOT/run/thar/restarts.log`` (THAR_ROOT default ``/``)."""
    return thar_root() / "run" / "thar" / "restarts.log"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in (["-h"], ["--help"]):
        print("usage: thar-record-restart SERVICE")
        return 0
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


# ``main`` as a POSIX shell script: the same arguments, exit statuses, messages and log line
# (the time in UTC with microseconds, where ``date`` has ``%N``; ``.000000`` where it has not).
SCRIPT = r"""#!/bin/sh
# thar-record-restart SERVICE: records in $THAR_ROOT/run/thar/restarts.log the restart of
# SERVICE that a real host would run, with the changed settings of CHANGED_SETTINGS.
if [ "$#" -eq 1 ] && { [ "$1" = -h ] || [ "$1" = --help ]; }; then
    echo "usage: thar-record-restart SERVICE"
    exit 0
fi
if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: thar-record-restart SERVICE" >&2
    exit 2
fi
case $1 in -*)
    echo "usage: thar-record-restart SERVICE" >&2
    exit 2
esac
root=${THAR_ROOT:-/}
case $root in
    */) dir=${root}run/thar ;;
    *) dir=$root/run/thar ;;
esac
log=$dir/restarts.log
fail() {
    echo "thar-record-restart: cannot write $log: ${1##*: }" >&2
    exit 1
}
if [ ! -d "$dir" ]; then
    reason=$(mkdir -p -- "$dir" 2>&1) || fail "$reason"
fi
stamp=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
case $stamp in
    *[!0-9TZ:.-]* | "") stamp=$(date -u +%Y-%m-%dT%H:%M:%S).000000Z ;;
esac
line="$stamp $1 ${CHANGED_SETTINGS-}"
while :; do
    case $line in
        *[[:space:]]) line=${line%?} ;;
        *) break ;;
    esac
done
if ! { printf '%s\n' "$line" >>"$log"; } 2>/dev/null; then
    reason=$( (: >>"$log") 2>&1)
    fail "${reason:-cannot open the file}"
fi
exit 0
"""


if __name__ == "__main__":
    sys.exit(main())
