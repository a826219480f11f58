"""The transaction steps `set` and `apply` share: commit-and-apply, and discarding on failure.

thar: with `wait` (`set --wait`, `apply --wait`) the commit is `POST /tx/commit_and_apply?wait=true`,
answered once the applier has finished, with its report (`commit_and_apply_waiting`).

Bottlerocket's apiclient leaves a failed command's transaction pending (it shows in
`/tx/list` until something deletes it); thar deletes it, so a failed `set` or `apply` leaves
nothing behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from thar.apiclient.client import Request, SocketPath, raw_request_unchecked, send
from thar.apiclient.errors import ApiClientError, ConnectionFailed, RequestFailed, ResponseStatus

__all__ = [
    "ApplyFailed",
    "commit_and_apply_request",
    "commit_and_apply_waiting",
    "delete_request",
    "discard_on_failure",
    "dry_run_request",
    "format_report",
    "tx_query",
]

log = logging.getLogger("apiclient")


def tx_query(tx: str) -> str:
    """`tx=` + the name, percent-encoded where a query needs it (`apiclient-set-Ab12…` is sent as is)."""
    return "tx=" + quote(tx, safe="")


def commit_and_apply_request(
    tx: str, confirm: int | None = None, *, wait: bool = False, timeout: int | None = None
) -> Request:
    """`POST /tx/commit_and_apply?tx={tx}`, no body: commit, then have the server apply the changed keys.
    thar: with `confirm`, the server reverts the commit unless `POST /tx/confirm` comes within that
    many seconds; with `wait`, it answers once the applier has finished (or after `timeout` seconds)."""
    extra = "" if confirm is None else f"&confirm={confirm}"
    if wait:
        extra += "&wait=true" + ("" if timeout is None else f"&timeout={timeout}")
    return Request("POST", f"/tx/commit_and_apply?{tx_query(tx)}{extra}")


class ApplyFailed(ApiClientError):
    """thar: a waited-for apply failed or timed out after the commit was made; `report` is the
    server's answer (`status`, `error`, `files`, `services`, `committed`, …)."""

    def __init__(self, status: int, report: Mapping[str, Any]) -> None:
        self.status = status
        self.report = dict(report)
        committed = " (the settings were committed)" if report.get("committed") else ""
        super().__init__(
            f"Apply {report.get('status', 'failed')} with status {status}: {report.get('error')}{committed}"
        )


def commit_and_apply_waiting(socket_path: SocketPath, request: Request) -> tuple[int, dict[str, Any]]:
    """Send a `wait=true` commit-and-apply (or `POST /tx/apply?wait=true`) and return (status,
    report). A report with a failed or timed-out apply (502, 504) is returned too, not raised;
    any other non-2xx answer raises `RequestFailed`, as `send` does."""
    try:
        status, body = raw_request_unchecked(socket_path, request.uri, request.method, request.body)
    except ApiClientError as exc:
        raise RequestFailed(request.method, request.uri, exc) from exc
    report: Any = None
    if 200 <= status < 300 or status in (502, 504):
        try:
            report = json.loads(body)
        except ValueError:
            report = None
    if not isinstance(report, dict) or "status" not in report:
        raise RequestFailed(request.method, request.uri, ResponseStatus(request.method, request.uri, status, body))
    return status, report


def format_report(report: Mapping[str, Any]) -> str:
    """The report as `apiclient` prints it: sorted keys, 2-space indentation, a final newline."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dry_run_request(tx: str) -> Request:
    """thar: `POST /tx/commit_and_apply?tx={tx}&dry_run=true`: what the commit and apply would do."""
    return Request("POST", f"/tx/commit_and_apply?{tx_query(tx)}&dry_run=true")


def delete_request(tx: str) -> Request:
    """`DELETE /tx?tx={tx}`: drop the transaction's pending settings (200 and `[]` when it has none)."""
    return Request("DELETE", f"/tx?{tx_query(tx)}")


@contextmanager
def discard_on_failure(socket_path: SocketPath, tx: str) -> Iterator[None]:
    """Delete transaction `tx` if the block raises, then re-raise the block's error.

    Nothing is tried when the block failed because the socket could not be connected to (the
    delete could not be sent either). A failure of the delete itself is logged as a warning;
    the block's error is what the caller sees. A delete the server's policy refuses (403) is
    only a debug line: a caller that may not discard transactions could not stage into one
    either (the apiserver's reader role), so nothing was left behind.
    """
    try:
        yield
    except BaseException as exc:
        if not _unreachable(exc):
            try:
                send(socket_path, delete_request(tx))
            except ApiClientError as delete_exc:
                if _forbidden(delete_exc):
                    log.debug("Transaction '%s' not deleted after the failure: %s", tx, delete_exc)
                else:
                    log.warning("Could not delete transaction '%s' after the failure: %s", tx, delete_exc)
        raise


def _forbidden(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, ResponseStatus) and exc.status == 403:
            return True
        exc = exc.__cause__
    return False


def _unreachable(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, ConnectionFailed):
            return True
        exc = exc.__cause__
    return False
