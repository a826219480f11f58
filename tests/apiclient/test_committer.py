"""settings-committer (spec/storewolf-and-committer.md §3) against a recording peer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apiclient.peer import ApiPeer, running_peer
from thar.apiclient.committer import commit, main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_logs_pending_then_commits_the_launch_transaction(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/tx", (200, '{"motd":"hi"}'))
    code, out, err = run(capsys, "--socket-path", peer.socket_path)
    assert (code, out) == (0, "")
    assert peer.sent() == [("GET", "/tx?tx=bottlerocket-launch"), ("POST", "/tx/commit?tx=bottlerocket-launch")]
    assert peer.requests[1].body == b""
    assert '{"motd": "hi"}' in err


def test_apply_is_never_called(peer: ApiPeer) -> None:
    assert main(["--socket-path", peer.socket_path]) == 0
    assert all("apply" not in uri for _, uri in peer.sent())


def test_nothing_to_commit_is_success(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("POST", "/tx/commit", (422, "Tried to commit with no pending changes"))
    code, _, err = run(capsys, "--socket-path", peer.socket_path)
    assert code == 0
    assert "settings-committer found no settings changes to commit" in err


def test_another_error_status_fails(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("POST", "/tx/commit", (500, "Data store error during commit: boom"))
    code, out, err = run(capsys, "--socket-path", peer.socket_path, "--log-level", "off")
    assert (code, out) == (1, "")
    assert (
        err
        == "Error 500 when sending POST to /tx/commit?tx=bottlerocket-launch: Data store error during commit: boom\n"
    )


def test_no_server_fails_naming_the_uri(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--socket-path", str(tmp_path / "api.sock"), "--log-level", "error")
    assert code == 1
    assert err.startswith("Error sending POST to /tx/commit?tx=bottlerocket-launch: Failed to send request: ")
    assert "is the apiserver running?" in err


@pytest.mark.parametrize(
    "reply",
    [(404, ""), (500, "boom"), (200, "not json"), (200, "[1]")],
)
def test_problems_reading_pending_settings_are_only_warnings(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, reply: tuple[int, str]
) -> None:
    peer.route("GET", "/tx", reply)
    code, _, err = run(capsys, "--socket-path", peer.socket_path)
    assert code == 0
    assert "[WARNING]" in err
    assert peer.sent()[-1] == ("POST", "/tx/commit?tx=bottlerocket-launch")


def test_another_transaction(peer: ApiPeer) -> None:
    assert main(["--transaction", "my-tx", "--socket-path", peer.socket_path, "--log-level", "DEBUG"]) == 0
    assert peer.sent() == [("GET", "/tx?tx=my-tx"), ("POST", "/tx/commit?tx=my-tx")]


def test_commit_returns_the_committed_keys(peer: ApiPeer) -> None:
    peer.route("POST", "/tx/commit", (200, '["settings.motd","settings.ntp.time-servers"]'))
    assert commit(peer.socket_path, "t") == ["settings.motd", "settings.ntp.time-servers"]
    peer.route("POST", "/tx/commit", (422, "Tried to commit with no pending changes"))
    assert commit(peer.socket_path, "t") == []


def test_the_default_socket_follows_thar_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if len(str(tmp_path / "run" / "api.sock")) > 100:
        pytest.skip("temporary directory path too long for a Unix socket")
    (tmp_path / "run").mkdir()
    monkeypatch.setenv("THAR_ROOT", str(tmp_path))
    with running_peer(str(tmp_path / "run" / "api.sock")) as thar_peer:
        assert main([]) == 0
        assert thar_peer.sent()[-1] == ("POST", "/tx/commit?tx=bottlerocket-launch")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["extra"], "unrecognized arguments: extra"),
        (["--transaction"], "argument --transaction: expected one argument"),
        (["--socket-path"], "argument --socket-path: expected one argument"),
        (["--log-level", "loud"], "Invalid log level 'loud'"),
    ],
)
def test_usage_errors_print_usage_naming_the_defaults_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message + "\n\n")
    assert "bottlerocket-launch" in err
    assert "/run/api.sock" in err


def test_help_prints_usage_on_stdout_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--help")
    assert (code, err) == (0, "")
    assert out.startswith("usage: settings-committer")
