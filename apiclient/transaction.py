"""The transaction steps `set` and `apply` share: commit-and-apply, and discarding on failure.

Bottlerocket's apiclient leaves a failed command's transaction pending (it shows in
`/tx/list` until something deletes it); thar deletes it, so a failed `set` or `apply` leaves
nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from thar.apiclient.client import Request, SocketPath, send
from thar.apiclient.errors import ApiClientError, ConnectionFailed

__all__ = ["commit_and_apply_request", "delete_request", "discard_on_failure", "dry_run_request", "tx_query"]

log = logging.getLogger("apiclient")


def tx_query(tx: str) -> str:
    """`tx=` + the name, percent-encoded where a query needs it (`apiclient-set-Ab12…` is sent as is)."""
    return "tx=" + quote(tx, safe="")


def commit_and_apply_request(tx: str, confirm: int | None = None) -> Request:
    """`POST /tx/commit_and_apply?tx={tx}`, no body: commit, then have the server apply the changed keys.
    thar: with `confirm`, the server reverts the commit unless `POST /tx/confirm` comes within that
    many seconds."""
    extra = "" if confirm is None else f"&confirm={confirm}"
    return Request("POST", f"/tx/commit_and_apply?{tx_query(tx)}{extra}")


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
    the block's error is what the caller sees.
    """
    try:
        yield
    except BaseException as exc:
        if not _unreachable(exc):
            try:
                send(socket_path, delete_request(tx))
            except ApiClientError as delete_exc:
                log.warning("Could not delete transaction '%s' after the failure: %s", tx, delete_exc)
        raise


def _unreachable(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, ConnectionFailed):
            return True
        exc = exc.__cause__
    return False
