"""client.py over a real Unix socket: what goes on the wire, status checking, error translation."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiclient.peer import ApiPeer
from thar.apiclient.client import Request, raw_request, raw_request_unchecked, send
from thar.apiclient.errors import (
    ApiClientError,
    ConnectionFailed,
    RequestFailed,
    ResponseNotUtf8,
    ResponseStatus,
    TransportError,
)


def test_every_request_carries_json_content_type(peer: ApiPeer) -> None:
    raw_request(peer.socket_path, "/tx/list", "GET")
    raw_request(peer.socket_path, "/settings?tx=t", "PATCH", '{"motd":"x"}')
    assert [r.headers.get("content-type") for r in peer.requests] == ["application/json", "application/json"]


def test_a_body_is_sent_only_when_given(peer: ApiPeer) -> None:
    raw_request(peer.socket_path, "/tx/list", "GET")
    raw_request(peer.socket_path, "/actions/reboot", "POST")
    raw_request(peer.socket_path, "/settings?tx=t", "PATCH", '{"motd":"héllo"}')
    get, post, patch = peer.requests
    assert get.body == b"" and "content-length" not in get.headers
    assert post.body == b"" and post.headers.get("content-length", "0") == "0"
    assert patch.body == '{"motd":"héllo"}'.encode()
    assert patch.headers["content-length"] == str(len(patch.body))


def test_the_uri_and_method_are_sent_verbatim(peer: ApiPeer) -> None:
    raw_request_unchecked(peer.socket_path, "/settings?keys=settings.motd,settings.ntp&x=%22", "get")
    assert peer.sent() == [("get", "/settings?keys=settings.motd,settings.ntp&x=%22")]


def test_one_request_per_connection_with_host_localhost(peer: ApiPeer) -> None:
    raw_request(peer.socket_path, "/tx/list", "GET")
    raw_request(peer.socket_path, "/tx/list", "GET")
    assert [r.headers["host"] for r in peer.requests] == ["localhost", "localhost"]


def test_raw_request_returns_status_and_body_for_2xx(peer: ApiPeer) -> None:
    peer.route("GET", "/settings", (200, '{"motd":"hi"}'))
    assert raw_request(peer.socket_path, "/settings", "GET") == (200, '{"motd":"hi"}')
    assert raw_request(peer.socket_path, "/actions/reboot", "POST") == (204, "")


def test_raw_request_raises_for_non_2xx_with_the_spec_message(peer: ApiPeer) -> None:
    peer.route("POST", "/tx/commit_and_apply", (422, "Tried to commit with no pending changes"))
    with pytest.raises(ResponseStatus) as info:
        raw_request(peer.socket_path, "/tx/commit_and_apply?tx=t", "POST")
    assert (
        str(info.value) == "Status 422 when POSTing /tx/commit_and_apply?tx=t: Tried to commit with no pending changes"
    )
    assert (info.value.status, info.value.method, info.value.uri) == (422, "POST", "/tx/commit_and_apply?tx=t")


def test_an_empty_error_body_leaves_the_message_ending_in_colon_space(peer: ApiPeer) -> None:
    with pytest.raises(ResponseStatus) as info:
        raw_request(peer.socket_path, "/nope", "GET")
    assert str(info.value) == "Status 404 when GETing /nope: "


def test_raw_request_unchecked_returns_any_status(peer: ApiPeer) -> None:
    peer.route("GET", "/updates/status", (423, "Update lock held"))
    assert raw_request_unchecked(peer.socket_path, "/updates/status", "GET") == (423, "Update lock held")
    assert raw_request_unchecked(peer.socket_path, "/nope", "GET") == (404, "")


def test_a_body_that_is_not_utf8_is_an_error(peer: ApiPeer) -> None:
    peer.route("GET", "/os", (200, b"\xff\xfe"))
    with pytest.raises(ResponseNotUtf8, match=r"^Response was not UTF-8: "):
        raw_request_unchecked(peer.socket_path, "/os", "GET")


def test_send_wraps_failures_with_method_and_uri(peer: ApiPeer) -> None:
    peer.route("GET", "/settings", (500, "Data store error during get_key: boom"))
    with pytest.raises(RequestFailed) as info:
        send(peer.socket_path, Request("GET", "/settings"))
    assert str(info.value) == (
        "Failed GET request to '/settings': Status 500 when GETing /settings: Data store error during get_key: boom"
    )
    assert info.value.status == 500
    assert isinstance(info.value.cause, ResponseStatus)


def test_a_missing_socket_names_the_socket_and_asks_whether_the_apiserver_runs(tmp_path: Path) -> None:
    path = str(tmp_path / "api.sock")
    with pytest.raises(ConnectionFailed) as info:
        raw_request(path, "/tx/list", "GET")
    message = str(info.value)
    assert message.startswith("Failed to send request: ")
    assert f"'{path}'" in message
    assert "is the apiserver running?" in message
    assert isinstance(info.value.error, FileNotFoundError)


def test_a_socket_nobody_listens_on_is_refused(tmp_path: Path) -> None:
    short = tempfile.mkdtemp(prefix="thar-ac-")
    path = os.path.join(short, "api.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays; nothing listens
    try:
        with pytest.raises(ConnectionFailed, match="is the apiserver running"):
            raw_request(path, "/tx/list", "GET")
    finally:
        os.unlink(path)
        os.rmdir(short)


def test_a_server_that_hangs_up_is_a_transport_error(peer: ApiPeer) -> None:
    peer.route("GET", "/tx/list", None)
    with pytest.raises(TransportError) as info:
        raw_request(peer.socket_path, "/tx/list", "GET")
    assert not isinstance(info.value, ConnectionFailed)
    assert str(info.value).startswith(f"Failed to send request: GET /tx/list on '{peer.socket_path}': ")


def test_a_uri_with_a_space_is_refused_before_sending(peer: ApiPeer) -> None:
    with pytest.raises(TransportError):
        raw_request(peer.socket_path, "/tx?tx=a b", "GET")
    assert peer.requests == []


def test_every_error_is_an_apiclient_error(tmp_path: Path) -> None:
    with pytest.raises(ApiClientError):
        raw_request(tmp_path / "none.sock", "/", "GET")


def test_chunked_responses_are_decoded() -> None:
    from thar.apiclient.client import _parse_response

    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n"
    assert _parse_response(data) == (200, b"[1,2]")


def test_a_response_that_is_not_http_is_a_transport_error(tmp_path: Path) -> None:
    import socket
    import threading

    path = str(tmp_path / "junk.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-nope\r\n")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    with pytest.raises(ApiClientError, match="not an HTTP response"):
        raw_request_unchecked(path, "/", "GET")
    thread.join()
    server.close()


@pytest.fixture
def slow_peer(peer: ApiPeer) -> Iterator[tuple[ApiPeer, threading.Event]]:
    release = threading.Event()

    def slow(_: object) -> tuple[int, str]:
        release.wait(5)
        return (200, "[]")

    peer.route("GET", "/slow", slow)
    yield peer, release
    release.set()


def test_requests_are_independent_connections(slow_peer: tuple[ApiPeer, threading.Event]) -> None:
    peer, release = slow_peer
    results: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: results.append(raw_request(peer.socket_path, "/slow", "GET")))
    worker.start()
    assert raw_request(peer.socket_path, "/tx/list", "GET") == (200, "[]")  # not queued behind /slow
    release.set()
    worker.join(5)
    assert results == [(200, "[]")]
