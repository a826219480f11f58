"""Errors a handler may raise; ``str(exc)`` is the response body, ``STATUS`` gives the code.

The messages are the API (spec/apiserver.md §11): they are copied exactly, double spaces
included, and tests pin them.
"""

from __future__ import annotations

from http import HTTPStatus

from thar.datastore import DatastoreError, OutOfSpace

__all__ = [
    "STATUS",
    "ApiError",
    "ApplierFailed",
    "BadKey",
    "BadPrefix",
    "CommitWithNoPending",
    "ContentTypeError",
    "DataStoreFailed",
    "DryRunFailed",
    "EmptyInput",
    "Forbidden",
    "GenerationNotFound",
    "InsufficientStorage",
    "InvalidInput",
    "JsonDeserialize",
    "JsonPatchFailed",
    "KeypairModelMismatch",
    "MetadataNotJson",
    "MissingInput",
    "NoInPlaceUpdates",
    "NotASetting",
    "NotFoundInDatastore",
    "NotUtf8",
    "NothingToConfirm",
    "OsReleaseFailed",
    "PayloadTooLarge",
    "RebootFailed",
    "SerdeFailed",
    "SerializeFailed",
    "SplitFailed",
    "UnknownSetting",
    "UpdateDispatcherFailed",
    "UpdateLockHeld",
    "UpdateNotAllowed",
    "UpdateNotFound",
    "write_failed",
]


class ApiError(Exception):
    """Base for errors a handler may raise; ``str(exc)`` is the response body."""


class MissingInput(ApiError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Missing required input '{name}'")


class EmptyInput(ApiError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Input '{name}' cannot be empty")


class BadKey(ApiError):
    def __init__(self, kind: str, name: str, error: Exception) -> None:
        super().__init__(f"Unable to make {kind} key '{name}': {error}")


class BadPrefix(ApiError):
    def __init__(self, prefix: str, error: Exception) -> None:
        super().__init__(f"Prefix '{prefix}' is not a valid key: {error}")


class SplitFailed(ApiError):
    def __init__(self, element: str) -> None:
        super().__init__(f"Failed to split the string: {element}")


class KeypairModelMismatch(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            "Unable to match your input to the data model.  We may not have enough type information.  "
            f"Please try the --json input form.  Cause: {detail}"
        )


class JsonDeserialize(ApiError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Json deserialize error: {reason}")


class ContentTypeError(ApiError):
    def __init__(self, given: str = "") -> None:
        shown = "".join(c if c.isprintable() else "?" for c in given[:60]) + ("…" if len(given) > 60 else "")
        sent = f"'{shown}'" if given else "none"
        super().__init__(
            f"Content type error: send the body as JSON with 'Content-Type: application/json' (any */json or "
            f"*/*+json type is accepted; application/json-patch+json for a JSON Patch), not {sent}"
        )


class PayloadTooLarge(ApiError):
    def __init__(self, size: int | None, limit: int) -> None:
        if size is None:
            super().__init__(f"JSON payload has exceeded limit ({limit} bytes).")
        else:
            super().__init__(f"JSON payload ({size} bytes) is larger than allowed (limit: {limit} bytes).")


class InvalidInput(ApiError):
    """A query parameter has the wrong form (thar's additions: ``to``, ``confirm``, ``since`` …)."""

    def __init__(self, name: str, expected: str, given: str) -> None:
        super().__init__(f"Input '{name}' must be {expected}, not '{given}'")


class NotUtf8(ApiError):
    """A query parameter's percent-escapes decode to bytes that are not UTF-8 (thar: 400)."""

    def __init__(self, name: str, sent: str, byte: int, offset: int) -> None:
        shown = sent if len(sent) <= 60 else sent[:60] + "…"
        super().__init__(
            f"Input '{name}' is not valid UTF-8 once percent-decoded: '{shown}' (byte 0x{byte:02X} at offset {offset})"
        )


class NotASetting(ApiError):
    """``keys`` names something that is not a single setting (thar: 400 where Bottlerocket has
    500 or does nothing)."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"Input 'keys' must name settings, and '{name}' {detail}")


class UnknownSetting(ApiError):
    """A name or prefix that names nothing in the variant's model (thar: 404 with ``strict=true``,
    and for watches; Bottlerocket answers ``{}``). The message suggests the nearest setting."""


class JsonPatchFailed(ApiError):
    """A JSON Patch (RFC 6902) body is malformed or cannot be applied to the current settings."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"JSON Patch error: {detail}")


class GenerationNotFound(ApiError):
    def __init__(self, generation: int, newest: int) -> None:
        super().__init__(f"Generation {generation} is not in the history (newest is {newest})")


class NothingToConfirm(ApiError):
    def __init__(self) -> None:
        super().__init__("No commit is waiting for confirmation")


class DryRunFailed(ApiError):
    """A dry run could not plan the apply (a template fails to render, a service is unknown)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Dry run failed: {detail}")


class Forbidden(ApiError):
    """The access policy denies the request; the message names the rule that decided."""


class NotFoundInDatastore(ApiError):
    def __init__(self, prefix: str) -> None:
        super().__init__(f"Found no '{prefix}' in datastore")


class CommitWithNoPending(ApiError):
    def __init__(self) -> None:
        super().__init__("Tried to commit with no pending changes")


class DataStoreFailed(ApiError):
    def __init__(self, op: str, error: Exception | str) -> None:
        super().__init__(f"Data store error during {op}: {error}")


class InsufficientStorage(DataStoreFailed):
    """The datastore's filesystem is full; the write was undone, nothing changed (thar: 507)."""


def write_failed(op: str, error: DatastoreError) -> DataStoreFailed:
    """The error for a datastore write that failed: 507 when the disk is full, else 500."""
    if isinstance(error, OutOfSpace):
        return InsufficientStorage(op, error)
    return DataStoreFailed(op, error)


class SerdeFailed(ApiError):
    """Stored data does not fit the model it is read into."""

    def __init__(self, what: str, error: Exception | str) -> None:
        super().__init__(f"Error deserializing {what}: {error} ")


class SerializeFailed(ApiError):
    def __init__(self, what: str, error: Exception | str) -> None:
        super().__init__(f"Error serializing {what}: {error} ")


class MetadataNotJson(ApiError):
    def __init__(self, name: str, error: Exception) -> None:
        super().__init__(f"Metadata '{name}' is not valid JSON: {error}")


class OsReleaseFailed(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"Unable to get OS release data: {detail}")


class ApplierFailed(ApiError):
    """The settings applier could not be started, fed, or exited non-zero."""


class RebootFailed(ApiError):
    """The reboot command could not be started or failed."""


class UpdateLockHeld(ApiError):
    """The update dispatcher (or its background child) holds the update lock."""


class UpdateNotAllowed(ApiError):
    """The update state does not allow the action."""


class UpdateNotFound(ApiError):
    """No chosen update, no staged image, or no update status yet."""


class UpdateDispatcherFailed(ApiError):
    """The update dispatcher could not be started or failed, or its status is unreadable."""


class NoInPlaceUpdates(ApiError):
    """The image cannot update itself in place (it is replaced by a new image)."""


STATUS: dict[type[ApiError], HTTPStatus] = {
    # 400
    MissingInput: HTTPStatus.BAD_REQUEST,
    EmptyInput: HTTPStatus.BAD_REQUEST,
    BadKey: HTTPStatus.BAD_REQUEST,
    BadPrefix: HTTPStatus.BAD_REQUEST,
    SplitFailed: HTTPStatus.BAD_REQUEST,
    KeypairModelMismatch: HTTPStatus.BAD_REQUEST,
    JsonDeserialize: HTTPStatus.BAD_REQUEST,
    ContentTypeError: HTTPStatus.BAD_REQUEST,
    InvalidInput: HTTPStatus.BAD_REQUEST,
    JsonPatchFailed: HTTPStatus.BAD_REQUEST,
    NotUtf8: HTTPStatus.BAD_REQUEST,
    NotASetting: HTTPStatus.BAD_REQUEST,
    # 403
    Forbidden: HTTPStatus.FORBIDDEN,
    # 404
    NotFoundInDatastore: HTTPStatus.NOT_FOUND,
    UnknownSetting: HTTPStatus.NOT_FOUND,
    GenerationNotFound: HTTPStatus.NOT_FOUND,
    UpdateNotFound: HTTPStatus.NOT_FOUND,
    # 409
    NothingToConfirm: HTTPStatus.CONFLICT,
    UpdateNotAllowed: HTTPStatus.CONFLICT,
    # 413
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    # 422
    CommitWithNoPending: HTTPStatus.UNPROCESSABLE_ENTITY,
    # 423
    UpdateLockHeld: HTTPStatus.LOCKED,
    DryRunFailed: HTTPStatus.UNPROCESSABLE_ENTITY,
    # 500
    DataStoreFailed: HTTPStatus.INTERNAL_SERVER_ERROR,
    SerdeFailed: HTTPStatus.INTERNAL_SERVER_ERROR,
    SerializeFailed: HTTPStatus.INTERNAL_SERVER_ERROR,
    MetadataNotJson: HTTPStatus.INTERNAL_SERVER_ERROR,
    OsReleaseFailed: HTTPStatus.INTERNAL_SERVER_ERROR,
    ApplierFailed: HTTPStatus.INTERNAL_SERVER_ERROR,
    RebootFailed: HTTPStatus.INTERNAL_SERVER_ERROR,
    UpdateDispatcherFailed: HTTPStatus.INTERNAL_SERVER_ERROR,
    # 501
    NoInPlaceUpdates: HTTPStatus.NOT_IMPLEMENTED,
    # 507
    InsufficientStorage: HTTPStatus.INSUFFICIENT_STORAGE,
}
