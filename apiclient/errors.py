"""The errors apiclient raises, one family under `ApiClientError`.

```
ApiClientError
├── UsageError                 bad command-line input; the CLI prints usage and exits 2
│   └── InvalidSettingsJson    `apiclient set --json` input that is not a JSON object
├── TransportError             the request could not be sent or its response not read
│   └── ConnectionFailed       nothing accepts connections on the socket
├── ResponseStatus             the server answered with a non-2xx status
├── ResponseNotUtf8            the response body is not UTF-8
├── InvalidJsonResponse        a response that should be JSON is not
├── RequestFailed              one request of a command failed (wraps one of the above)
├── apply: InvalidUri, InvalidFileUri, UnsupportedUriScheme, SourceReadFailed,
│          SourceFetchFailed, SourceNotTomlOrJson, SourceNotTable, SourceMissingSettings,
│          SourceHasDatetime, ApplyPatchFailed, ApplyCommitFailed
├── settings-committer: CommitRejected, CommitNotSent
├── SettingsNotToml            `get --toml`: settings that have no TOML form
├── exec: WebSocketProtocolError (the server broke the WebSocket protocol), ExecFailed (the
│         session ended without the command's exit status)
└── NotSupported               a Bottlerocket subcommand thar does not serve yet
```

Callers catch `ApiClientError` for everything, or `RequestFailed` and look at its `status`.
The CLI prints `str(exc)` (with the subcommand's wrapper, e.g. `Failed to change settings: `)
on stderr and exits 1, or 2 for a `UsageError`. The messages are Bottlerocket's
(spec/apiclient.md).
"""

from __future__ import annotations

__all__ = [
    "ApiClientError",
    "ApplyCommitFailed",
    "ApplyPatchFailed",
    "CommitNotSent",
    "CommitRejected",
    "ConnectionFailed",
    "ExecFailed",
    "InvalidFileUri",
    "InvalidJsonResponse",
    "InvalidSettingsJson",
    "InvalidUri",
    "NotSupported",
    "RequestFailed",
    "ResponseNotUtf8",
    "ResponseStatus",
    "SettingsNotToml",
    "SourceFetchFailed",
    "SourceHasDatetime",
    "SourceMissingSettings",
    "SourceNotTable",
    "SourceNotTomlOrJson",
    "SourceReadFailed",
    "TransportError",
    "UnsupportedUriScheme",
    "UsageError",
    "WebSocketProtocolError",
]


class ApiClientError(Exception):
    """Base of every error apiclient raises; `str(exc)` is the message for the user."""


class UsageError(ApiClientError):
    """The command line is wrong; the CLI prints this message, a blank line and the usage, and exits 2."""


class InvalidSettingsJson(UsageError):
    """`set --json` input that does not parse, or is not an object, or has a non-object `settings`."""


class TransportError(ApiClientError):
    """The request could not be sent, or its response could not be read."""

    def __init__(self, socket_path: str, detail: str) -> None:
        self.socket_path = socket_path
        self.detail = detail
        super().__init__(f"Failed to send request: {detail}")


class ConnectionFailed(TransportError):
    """Connecting to the API socket failed: it is missing, refuses connections, or is not ours to use."""

    def __init__(self, socket_path: str, error: OSError) -> None:
        self.error = error
        reason = error.strerror or str(error)
        if isinstance(error, PermissionError):
            hint = "do you have permission to use it?"
        else:
            hint = "is the apiserver running?"
        super().__init__(socket_path, f"Unable to connect to the API socket '{socket_path}': {reason}; {hint}")


class ResponseStatus(ApiClientError):
    """The server answered a checked request with a status outside 2xx."""

    def __init__(self, method: str, uri: str, status: int, body: str) -> None:
        self.method = method
        self.uri = uri
        self.status = status
        self.body = body
        super().__init__(f"Status {status} when {method}ing {uri}: {body}")


class ResponseNotUtf8(ApiClientError):
    """The response body is not valid UTF-8."""

    def __init__(self, error: UnicodeDecodeError) -> None:
        super().__init__(f"Response was not UTF-8: {error}")


class InvalidJsonResponse(ApiClientError):
    """A response that should hold JSON does not parse."""

    def __init__(self, body: str, error: ValueError) -> None:
        self.body = body
        shown = body if len(body) <= 200 else f"{body[:200]}… ({len(body)} characters)"
        super().__init__(f"Response contained invalid JSON '{shown}' - {error}")


class RequestFailed(ApiClientError):
    """One request of a command failed; `cause` says how, `status` is the HTTP status if there was one."""

    def __init__(self, method: str, uri: str, cause: ApiClientError) -> None:
        self.method = method
        self.uri = uri
        self.cause = cause
        super().__init__(f"Failed {method} request to '{uri}': {cause}")

    @property
    def status(self) -> int | None:
        """The response's status when the server answered non-2xx, else None."""
        return self.cause.status if isinstance(self.cause, ResponseStatus) else None


# apply: reading and converting sources (nothing has been sent when these are raised)


class InvalidUri(ApiClientError):
    """An apply source that is neither `-` nor an absolute URL."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        super().__init__(f"Given invalid URI '{source}': {reason}")


class InvalidFileUri(ApiClientError):
    """A `file:` URL that does not name a local path."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(f"Given invalid file URI '{source}'")


class UnsupportedUriScheme(ApiClientError):
    """An absolute URL whose scheme is not file, http or https."""

    def __init__(self, source: str, scheme: str) -> None:
        self.source = source
        super().__init__(
            f"Given URI '{source}' has unsupported scheme '{scheme}'; use '-' (stdin), file://, http:// or https://"
        )


class SourceReadFailed(ApiClientError):
    """A file (or stdin) could not be read, or is not UTF-8."""

    def __init__(self, source: str, error: Exception) -> None:
        self.source = source
        super().__init__(f"Failed to read given file '{source}': {error}")


class SourceFetchFailed(ApiClientError):
    """An http(s) source answered non-2xx, or could not be fetched."""

    def __init__(self, source: str, error: Exception) -> None:
        self.source = source
        super().__init__(f"Failed GET request to '{source}': {error}")


class SourceNotTomlOrJson(ApiClientError):
    """A source parses neither as TOML nor as JSON."""

    def __init__(self, source: str, toml_error: Exception, json_error: Exception) -> None:
        self.source = source
        super().__init__(
            f"Input '{source}' is not valid TOML or JSON.  (TOML error: {toml_error})  (JSON error: {json_error})"
        )


class SourceNotTable(ApiClientError):
    """A source's document is not a table (TOML) or object (JSON)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(f"Settings from '{source}' are not a TOML table / JSON object")


class SourceMissingSettings(ApiClientError):
    """A source's document has no top-level `settings` key (an empty document is such a case)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(f"Settings from '{source}' did not contain a 'settings' key at top level")


class SourceHasDatetime(ApiClientError):
    """A TOML source holds a date or time, which no setting can hold."""

    def __init__(self, source: str, value: object) -> None:
        self.source = source
        super().__init__(
            f"Settings from '{source}' contain the TOML date/time {value}; settings cannot hold dates or times, "
            "quote it to make it a string"
        )


class ApplyPatchFailed(ApiClientError):
    """The PATCH of one apply source failed."""

    def __init__(self, source: str, uri: str, cause: ApiClientError) -> None:
        self.source = source
        self.uri = uri
        self.cause = cause
        super().__init__(f"Failed to PATCH settings from '{source}' to '{uri}': {cause}")


class ApplyCommitFailed(ApiClientError):
    """The commit of an apply transaction failed."""

    def __init__(self, uri: str, cause: ApiClientError) -> None:
        self.uri = uri
        self.cause = cause
        super().__init__(f"Failed to commit combined settings to '{uri}': {cause}")


# settings-committer


class CommitRejected(ApiClientError):
    """The server answered settings-committer's commit with a non-2xx status other than 422."""

    def __init__(self, uri: str, status: int, body: str) -> None:
        self.uri = uri
        self.status = status
        self.body = body
        super().__init__(f"Error {status} when sending POST to {uri}: {body}")


class CommitNotSent(ApiClientError):
    """settings-committer's commit could not be sent (socket missing, refused, ...)."""

    def __init__(self, uri: str, cause: ApiClientError) -> None:
        self.uri = uri
        self.cause = cause
        super().__init__(f"Error sending POST to {uri}: {cause}")


class NotSupported(ApiClientError):
    """A Bottlerocket subcommand whose endpoints thar does not serve yet."""

    def __init__(self, subcommand: str, reason: str = "") -> None:
        self.subcommand = subcommand
        super().__init__(f"'apiclient {subcommand}' is not supported by thar yet" + (f" ({reason})" if reason else ""))


class WebSocketProtocolError(ApiClientError):
    """The server broke the WebSocket protocol: a handshake answer or a frame that is not one."""

    def __init__(self, socket_path: str, detail: str) -> None:
        self.socket_path = socket_path
        self.detail = detail
        super().__init__(f"WebSocket protocol error on '{socket_path}': {detail}")


class ExecFailed(ApiClientError):
    """`apiclient exec` ended without the command's exit status: the server closed the session
    with a reason (the target is not running, a protocol error: `code` is the close code), went
    silent, or went away."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class SettingsNotToml(ApiClientError):
    """`apiclient get --toml`: the settings hold a value TOML cannot write (a null, say)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The settings cannot be written as TOML: {reason}")
        self.reason = reason
