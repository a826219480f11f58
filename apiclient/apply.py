"""`apiclient apply`: apply settings documents (TOML or JSON) from files, URLs or stdin in one commit.

Each source is `-` (all of stdin), an absolute URL (`file:///path`, `http://…`, `https://…`) or,
unlike Bottlerocket's apiclient, a plain file path (`settings.toml`, `/etc/x.toml`).
Every source is read and converted before anything is sent, so a bad source changes nothing.
Each document must have a top-level `settings` table; only its value is sent. The sources are
PATCHed in order into one transaction (`apiclient-apply-` + 16 random letters and digits), so a
later source overrides an earlier one key by key, then committed and applied once. If a request
fails the transaction is deleted.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from thar.apiclient.client import Request, SocketPath, raw_request, transaction_name
from thar.apiclient.errors import (
    ApiClientError,
    ApplyCommitFailed,
    ApplyPatchFailed,
    InvalidFileUri,
    InvalidUri,
    RequestFailed,
    SourceFetchFailed,
    SourceHasDatetime,
    SourceMissingSettings,
    SourceNotTable,
    SourceNotTomlOrJson,
    SourceReadFailed,
    UnsupportedUriScheme,
)
from thar.apiclient.set import compact_json
from thar.apiclient.transaction import (
    ApplyFailed,
    commit_and_apply_request,
    commit_and_apply_waiting,
    discard_on_failure,
    tx_query,
)

__all__ = [
    "STDIN",
    "SourceSettings",
    "apply_and_wait",
    "apply_settings",
    "apply_sources",
    "dry_run_sources",
    "parse_settings_document",
    "read_source",
    "read_sources",
]

STDIN = "-"
"""The source that means "read all of standard input"."""

_MAX_CONCURRENT_FETCHES = 4

# An absolute URL starts with a scheme (RFC 3986: a letter, then letters, digits, + - .) and a colon.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class SourceSettings:
    """The `settings` value of one source, ready to PATCH."""

    source: str
    settings: Any


def read_source(source: str, stdin: Callable[[], bytes] | None = None) -> str:
    """Return the text of one source: `-` (stdin), `file:///path`, an http(s) URL, or a file path.

    `stdin` replaces reading `sys.stdin` (for callers that hold the bytes already). Raises
    `InvalidUri` for an empty source or one starting `//`, `InvalidFileUri`,
    `UnsupportedUriScheme`, `SourceReadFailed` (also for text that is not UTF-8), or
    `SourceFetchFailed` for an http(s) source that answers non-2xx or cannot be fetched.
    """
    if source == STDIN:
        try:
            data = stdin() if stdin is not None else sys.stdin.buffer.read()
            return data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceReadFailed(source, exc) from exc
    match = _SCHEME.match(source)
    if match is None:
        if not source or source.startswith("//"):  # nothing, or a URL's //authority without a scheme
            raise InvalidUri(source, "relative URL without a base")
        return _read_path(source, source)
    scheme = match.group()[:-1].lower()
    if scheme == "file":
        return _read_file(source)
    if scheme in ("http", "https"):
        return _fetch(source)
    raise UnsupportedUriScheme(source, scheme)


def _read_file(source: str) -> str:
    parts = urlsplit(source)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise InvalidFileUri(source)
    return _read_path(source, unquote(parts.path))


def _read_path(source: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceReadFailed(source, exc) from exc


def _fetch(source: str) -> str:
    # urllib.request pulls in ssl and email; only a run that fetches a URL pays for them.
    import urllib.request

    try:
        with urllib.request.urlopen(source) as response:
            data: bytes = response.read()
        return data.decode("utf-8")
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors; bad URL/UTF-8 are ValueErrors
        raise SourceFetchFailed(source, exc) from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_settings_document(source: str, text: str) -> SourceSettings:
    """Parse a document as TOML, or as JSON if it is not TOML, and take its top-level `settings`.

    Other top-level keys are ignored. An empty document is an empty TOML table, so it has no
    `settings`. Raises `SourceNotTomlOrJson`, `SourceNotTable`, `SourceMissingSettings`,
    `SourceHasDatetime` (TOML dates and times cannot be settings).
    """
    document: Any
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as toml_error:
        try:
            document = json.loads(text, parse_constant=_reject_constant)
        except ValueError as json_error:
            raise SourceNotTomlOrJson(source, toml_error, json_error) from json_error
    if not isinstance(document, dict):
        raise SourceNotTable(source)
    if "settings" not in document:
        raise SourceMissingSettings(source)
    settings = document["settings"]
    _reject_datetimes(source, settings)
    return SourceSettings(source, settings)


def _reject_datetimes(source: str, value: Any) -> None:
    if isinstance(value, datetime.date | datetime.time):
        raise SourceHasDatetime(source, value.isoformat())
    if isinstance(value, dict):
        for item in value.values():
            _reject_datetimes(source, item)
    elif isinstance(value, list):
        for item in value:
            _reject_datetimes(source, item)


def read_sources(sources: Sequence[str], stdin: Callable[[], bytes] | None = None) -> list[SourceSettings]:
    """Read and convert every source, up to 4 at a time, keeping input order.

    The first failing source (in input order) raises its error; see `read_source` and
    `parse_settings_document`.
    """

    def load(source: str) -> SourceSettings:
        return parse_settings_document(source, read_source(source, stdin))

    if len(sources) <= 1:
        return [load(source) for source in sources]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=_MAX_CONCURRENT_FETCHES) as pool:
        return list(pool.map(load, sources))


def _patch_documents(socket_path: SocketPath, tx: str, documents: Sequence[SourceSettings]) -> None:
    for document in documents:
        patch = Request("PATCH", f"/settings?{tx_query(tx)}", compact_json(document.settings))
        try:
            raw_request(socket_path, patch.uri, patch.method, patch.body)
        except ApiClientError as exc:
            raise ApplyPatchFailed(document.source, patch.uri, exc) from exc


def apply_settings(socket_path: SocketPath, documents: Sequence[SourceSettings]) -> str:
    """PATCH each source's settings in order into one new transaction, then commit and apply it once.

    Returns the transaction name. Raises `ApplyPatchFailed` or `ApplyCommitFailed`, whose
    `cause` is the `ResponseStatus` or transport error; the transaction is deleted first.
    """
    tx = transaction_name("apiclient-apply")
    with discard_on_failure(socket_path, tx):
        _patch_documents(socket_path, tx, documents)
        commit = commit_and_apply_request(tx)
        try:
            raw_request(socket_path, commit.uri, commit.method, commit.body)
        except ApiClientError as exc:
            raise ApplyCommitFailed(commit.uri, exc) from exc
    return tx


def apply_and_wait(
    socket_path: SocketPath,
    sources: Sequence[str],
    stdin: Callable[[], bytes] | None = None,
    timeout: int | None = None,
) -> dict[str, Any]:
    """thar: `apply --wait`: `apply_sources`, then wait until the server's applier has finished and
    return its report (see `apiclient.set.set_and_wait`). A failed or timed-out apply raises
    `ApplyFailed` with the report (the commit was made)."""
    documents = read_sources(sources, stdin)
    tx = transaction_name("apiclient-apply")
    with discard_on_failure(socket_path, tx):
        _patch_documents(socket_path, tx, documents)
        commit = commit_and_apply_request(tx, wait=True, timeout=timeout)
        try:
            status, report = commit_and_apply_waiting(socket_path, commit)
        except ApiClientError as exc:
            raise ApplyCommitFailed(commit.uri, exc.cause if isinstance(exc, RequestFailed) else exc) from exc
    if not 200 <= status < 300:
        raise ApplyFailed(status, report)
    return report


def dry_run_sources(
    socket_path: SocketPath, sources: Sequence[str], stdin: Callable[[], bytes] | None = None
) -> dict[str, Any]:
    """thar: `apply --dry-run`: what applying the sources would change; nothing is committed."""
    from thar.apiclient.set import dry_run

    tx = transaction_name("apiclient-apply")
    patches = [
        Request("PATCH", f"/settings?{tx_query(tx)}", compact_json(d.settings)) for d in read_sources(sources, stdin)
    ]
    return dry_run(socket_path, patches, tx)


def apply_sources(socket_path: SocketPath, sources: Sequence[str], stdin: Callable[[], bytes] | None = None) -> str:
    """Read every source (nothing is sent if one fails), then `apply_settings`. Returns the transaction name."""
    return apply_settings(socket_path, read_sources(sources, stdin))
