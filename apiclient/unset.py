"""`apiclient unset KEY...`: reset settings to the variant's defaults (or remove them), commit and apply.

`DELETE /settings?keys=K1,K2&tx=apiclient-unset-…` stages the removal of each key and everything
below it (the server adds `settings.`; a setting with a default returns to it), then
`POST /tx/commit_and_apply` commits it. The transaction is deleted again if anything fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from thar.apiclient.client import Request, SocketPath, send, transaction_name
from thar.apiclient.transaction import commit_and_apply_request, discard_on_failure, tx_query

__all__ = ["unset", "unset_request"]


def unset_request(tx: str, keys: Sequence[str]) -> Request:
    """`DELETE /settings?keys=K1,K2&tx={tx}`."""
    return Request("DELETE", f"/settings?keys={quote(','.join(keys), safe=',')}&{tx_query(tx)}")


def unset(socket_path: SocketPath, keys: Sequence[str], confirm: int | None = None) -> str:
    """Reset `keys` in a new transaction and commit-and-apply it; return the transaction name."""
    tx = transaction_name("apiclient-unset")
    with discard_on_failure(socket_path, tx):
        send(socket_path, unset_request(tx, keys))
        send(socket_path, commit_and_apply_request(tx, confirm))
    return tx
