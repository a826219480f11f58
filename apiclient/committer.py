"""`settings-committer`: commit a pending transaction (default `bottlerocket-launch`) at boot.

storewolf stages the variant's default settings in `bottlerocket-launch`, and early-boot-config
and sundog add theirs; sundog's and settings-applier's units run settings-committer first
(ExecStartPre) to make them live. It logs what is pending (`GET /tx`), then commits
(`POST /tx/commit`) without applying: settings-applier runs `thar-be-settings --all`
afterwards. An empty transaction (422) is success, which is what every boot but the first sees.

    settings-committer [--transaction TX] [--socket-path PATH] [--log-level LEVEL]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from thar.apiclient.client import SocketPath, default_socket_path, is_success, raw_request_unchecked
from thar.apiclient.errors import ApiClientError, CommitNotSent, CommitRejected
from thar.apiclient.logs import LOG_LEVELS, setup_logging
from thar.apiclient.transaction import tx_query

__all__ = ["LAUNCH_TRANSACTION", "commit", "log_pending", "main"]

LAUNCH_TRANSACTION = "bottlerocket-launch"

log = logging.getLogger("apiclient")


def log_pending(socket_path: SocketPath, tx: str) -> None:
    """Log the transaction's pending settings (`GET /tx?tx=`); any failure is only a warning."""
    uri = f"/tx?{tx_query(tx)}"
    try:
        status, body = raw_request_unchecked(socket_path, uri, "GET")
    except ApiClientError as exc:
        log.warning("Failed to GET pending settings from %s: %s", uri, exc)
        return
    if not is_success(status):
        log.warning("Unable to GET pending settings from %s: %d %s", uri, status, body)
        return
    try:
        pending = json.loads(body)
    except ValueError as exc:
        log.warning("Failed to parse pending settings from %s: %s", uri, exc)
        return
    if not isinstance(pending, dict):
        log.warning("Pending settings from %s are not a JSON object: %s", uri, body)
        return
    log.info("Pending settings for transaction '%s': %s", tx, json.dumps(pending, ensure_ascii=False))


def commit(socket_path: SocketPath, tx: str) -> list[str]:
    """Commit the transaction (`POST /tx/commit?tx=`, no apply) and return the committed key names.

    422 (nothing pending) logs `settings-committer found no settings changes to commit` and
    returns `[]`. Raises `CommitRejected` for another non-2xx status, `CommitNotSent` when the
    request cannot be sent.
    """
    uri = f"/tx/commit?{tx_query(tx)}"
    try:
        status, body = raw_request_unchecked(socket_path, uri, "POST")
    except ApiClientError as exc:
        raise CommitNotSent(uri, exc) from exc
    if status == 422:
        log.info("settings-committer found no settings changes to commit")
        return []
    if not is_success(status):
        raise CommitRejected(uri, status, body)
    try:
        keys = json.loads(body)
    except ValueError:
        keys = None
    committed = [str(k) for k in keys] if isinstance(keys, list) else []
    log.info("Committed %d settings from transaction '%s'", len(committed), tx)
    return committed


class _UsageExit(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageExit(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog="settings-committer",
        description="Commit a pending settings transaction at boot; an empty transaction is success.",
        add_help=False,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--transaction", default=LAUNCH_TRANSACTION, metavar="TX", help="transaction to commit (default: %(default)s)"
    )
    parser.add_argument(
        "--socket-path", default=default_socket_path(), metavar="PATH", help="API socket (default: %(default)s)"
    )
    parser.add_argument("--log-level", default="info", metavar="LEVEL", help="one of " + ", ".join(LOG_LEVELS))
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on a commit, an empty transaction or --help, 1 on a failure, 2 on bad arguments."""
    parser = _parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
        if args.help:
            sys.stdout.write(parser.format_help())
            return 0
        if args.log_level.lower() not in LOG_LEVELS:
            raise _UsageExit(f"Invalid log level '{args.log_level}'")
    except _UsageExit as exc:
        print(f"{exc}\n\n{parser.format_help()}", end="", file=sys.stderr)
        return 2
    setup_logging(args.log_level)
    log_pending(args.socket_path, args.transaction)
    try:
        commit(args.socket_path, args.transaction)
    except ApiClientError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
