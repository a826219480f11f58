"""`apiclient raw`: send any request to the API and return the status and body.

The method is sent verbatim (case matters: `get` is not `GET`, and the server answers 404),
the URI is the path and query, the data is the body as given.
"""

from __future__ import annotations

from thar.apiclient.client import SocketPath, raw_request
from thar.apiclient.errors import ApiClientError, RequestFailed

__all__ = ["raw", "status_line"]


def raw(socket_path: SocketPath, uri: str, method: str = "GET", data: str | None = None) -> tuple[int, str]:
    """Send one checked request and return (status, body).

    Raises `RequestFailed` (`Failed {METHOD} request to '{uri}': Status …` for a non-2xx answer).
    """
    try:
        return raw_request(socket_path, uri, method, data)
    except ApiClientError as exc:
        raise RequestFailed(method, uri, exc) from exc


def status_line(status: int) -> str:
    """The status and its standard reason phrase, as `-v` prints it: `204 No Content`."""
    from http import HTTPStatus  # only for -v: its enum costs start-up time

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} <unknown status code>"
