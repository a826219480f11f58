"""The command line model of spec/apiclient.md §1 and each subcommand's arguments, through `main`.

Each command line runs against a recording peer on a Unix socket (`-s SOCK`, where `SOCK`
stands for its path): what the peer receives and what `main` prints and returns is the
specification. A usage error sends nothing.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from tests.apiclient.peer import ApiPeer, running_peer
from thar.apiclient.cli import ExecArgs, UpdateArgs, main, parse_command_line

SOCK = "<SOCK>"
DEBUG_LINE = "[DEBUG] "


def run(capsys: pytest.CaptureFixture[str], peer: ApiPeer, *argv: str) -> tuple[int, str, str]:
    """`main(argv)` with `SOCK` standing for the peer's socket; (exit status, stdout, stderr)."""
    code = main([peer.socket_path if token == SOCK else token for token in argv])
    out, err = capsys.readouterr()
    return code, out, err


def on_peer(capsys: pytest.CaptureFixture[str], peer: ApiPeer, *argv: str) -> tuple[int, str, str]:
    """`main(["-s", SOCK, *argv])`."""
    return run(capsys, peer, "-s", SOCK, *argv)


def usage_error(capsys: pytest.CaptureFixture[str], peer: ApiPeer, *argv: str) -> str:
    """Run argv (on the peer unless it names a socket), expect a usage error, return its message."""
    if SOCK not in argv and "-s" not in argv and "--socket-path" not in argv:
        argv = ("-s", SOCK, *argv)
    code, out, err = run(capsys, peer, *argv)
    assert (code, out) == (2, "")
    assert peer.requests == []
    message, _, usage = err.partition("\n\n")
    assert "usage: apiclient" in usage
    return message


def echo(request: object) -> tuple[int, str]:
    return (200, '{"settings": {}}')


@pytest.fixture
def answering(peer: ApiPeer) -> ApiPeer:
    """The peer, answering `GET /` (any prefix) and `GET /settings` with an empty settings object."""
    peer.route("GET", "/", echo)
    peer.route("GET", "/settings", (200, "{}"))
    return peer


# -- globals anywhere, the first subcommand word selects, everything else goes in order


@pytest.mark.parametrize(
    ("argv", "sent"),
    [
        (["-s", SOCK, "get", "settings.motd"], [("GET", "/?prefix=settings.motd")]),
        (["get", "settings.motd", "--socket-path", SOCK], [("GET", "/?prefix=settings.motd")]),
        (
            ["get", "-s", SOCK, "settings.motd", "os.arch"],
            [("GET", "/?prefix=settings.motd"), ("GET", "/?prefix=os.arch")],
        ),
        (["raw", "-s", SOCK, "-u", "/settings"], [("GET", "/settings")]),
        (["-s", SOCK, "-u", "/settings"], [("GET", "/settings")]),  # no subcommand word: raw
        (["-u", "/settings", "get", "-s", SOCK], []),  # "get" selects get, which has no -u
    ],
)
def test_globals_are_taken_from_anywhere_and_the_first_subcommand_word_selects(
    capsys: pytest.CaptureFixture[str], answering: ApiPeer, argv: list[str], sent: list[tuple[str, str]]
) -> None:
    run(capsys, answering, *argv)
    assert answering.sent() == sent


def test_a_subcommand_word_after_the_first_is_an_argument(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert usage_error(capsys, peer, "raw", "-u", "/get", "get") == "Unknown argument 'get'"
    assert usage_error(capsys, peer, "-u", "/x", "get") == "Unknown argument '-u'"


def test_a_global_flag_takes_the_next_token_whatever_it_is(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    # `-s --log-level` and `-s get raw`: the socket is "--log-level" or "get", and raw lacks --uri.
    assert usage_error(capsys, peer, "-s", "--log-level") == "Missing required argument '--uri'"
    assert usage_error(capsys, peer, "-s", "get", "raw") == "Missing required argument '--uri'"
    code, _, err = run(capsys, peer, "-s", "get", "raw", "-u", "/tx/list")
    assert code == 1
    assert "Unable to connect to the API socket 'get'" in err
    code, _, err = run(capsys, peer, "get", "-v", "motd", "-s", "--log-level")
    assert code == 1
    assert "Unable to connect to the API socket '--log-level'" in err


def test_the_last_socket_flag_wins(capsys: pytest.CaptureFixture[str], answering: ApiPeer) -> None:
    code, _, _ = run(capsys, answering, "-s", "/nonexistent/api.sock", "get", "settings.motd", "-s", SOCK)
    assert (code, answering.sent()) == (0, [("GET", "/?prefix=settings.motd")])


# -- the socket


def test_default_socket_is_run_api_sock(capsys: pytest.CaptureFixture[str]) -> None:
    if os.path.exists("/run/api.sock"):
        pytest.skip("an API socket is present at /run/api.sock")
    assert main(["get", "settings.motd"]) == 1
    assert "Unable to connect to the API socket '/run/api.sock'" in capsys.readouterr().err


def test_default_socket_is_under_thar_root_when_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, answering: ApiPeer
) -> None:
    if len(str(tmp_path / "run" / "api.sock")) > 100:  # AF_UNIX paths are short
        pytest.skip("temporary directory path too long for a Unix socket")
    (tmp_path / "run").mkdir()
    with running_peer(str(tmp_path / "run" / "api.sock")) as thar_peer:
        thar_peer.route("GET", "/", echo)
        monkeypatch.setenv("THAR_ROOT", str(tmp_path))
        assert main(["get", "settings.motd"]) == 0
        assert run(capsys, answering, "get", "settings.motd", "-s", SOCK)[0] == 0  # -s still wins
    assert thar_peer.sent() == [("GET", "/?prefix=settings.motd")]
    assert answering.sent() == [("GET", "/?prefix=settings.motd")]


# -- log levels


def debug_lines(err: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in err.splitlines() if DEBUG_LINE in line]


def test_global_flags_after_the_subcommand_are_honoured(capsys: pytest.CaptureFixture[str], answering: ApiPeer) -> None:
    code, _, err = run(capsys, answering, "get", "settings.motd", "-s", SOCK, "--log-level", "DEBUG")
    assert code == 0
    assert debug_lines(err) == [
        f"[DEBUG] GET /?prefix=settings.motd on {answering.socket_path}",
        "[DEBUG] GET /?prefix=settings.motd -> 200",
    ]


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_verbose_means_log_level_debug(capsys: pytest.CaptureFixture[str], peer: ApiPeer, flag: str) -> None:
    code, out, err = on_peer(capsys, peer, flag, "raw", "-u", "/tx/list")
    assert (code, out) == (0, "[]\n")
    assert debug_lines(err) == [f"[DEBUG] GET /tx/list on {peer.socket_path}", "[DEBUG] GET /tx/list -> 200"]
    assert err.endswith("200 OK\n")  # raw's status line, shown at debug


def test_default_log_level_is_info(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert on_peer(capsys, peer, "raw", "-u", "/tx/list") == (0, "[]\n", "")
    peer.route("POST", "/actions/reboot", (204, ""))
    code, _, err = on_peer(capsys, peer, "reboot")
    assert code == 0 and "[INFO]" in err


@pytest.mark.parametrize(
    ("level", "debug"),
    [("off", False), ("ERROR", False), ("warn", False), ("Info", False), ("debug", True), ("TRACE", True)],
)
def test_log_levels_are_case_insensitive(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, level: str, debug: bool
) -> None:
    code, out, err = on_peer(capsys, peer, "--log-level", level, "raw", "-u", "/tx/list")
    assert (code, out) == (0, "[]\n")
    assert bool(debug_lines(err)) is debug


def test_log_levels_are_thar_s_one_table() -> None:
    """apiclient reads thar.logs' level table (tests/common checks it against logging's)."""
    from thar import logs
    from thar.apiclient.logs import LOG_LEVELS, TRACE

    assert (LOG_LEVELS, TRACE) == (logs.LEVELS, logs.TRACE)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--log-level", "loud", "get"], "Invalid log level 'loud'"),
        (["get", "--log-level", "loud", "motd"], "Invalid log level 'loud'"),
        (["get", "--log-level", ""], "Invalid log level ''"),
        (["get", "-s"], "Did not give argument to -s | --socket-path"),
        (["get", "motd", "-s"], "Did not give argument to -s | --socket-path"),
        (["get", "--log-level"], "Did not give argument to --log-level"),
    ],
)
def test_global_flag_usage_errors(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], message: str
) -> None:
    assert usage_error(capsys, peer, *argv) == message


@pytest.mark.parametrize("argv", [["-v", "--log-level", "warn", "get"], ["--log-level", "warn", "-v", "get"]])
def test_the_last_of_verbose_and_log_level_wins(
    capsys: pytest.CaptureFixture[str], answering: ApiPeer, argv: list[str]
) -> None:
    code, _, err = on_peer(capsys, answering, *argv)
    assert code == 0
    assert bool(debug_lines(err)) is (argv[-2] == "-v")


# -- help


@pytest.mark.parametrize("argv", [["-h"], ["--help"], ["get", "-h", "motd"]])
def test_help_prints_usage_on_stdout_and_exits_0(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str]
) -> None:
    code, out, err = on_peer(capsys, peer, *argv)
    assert (code, err, peer.requests) == (0, "", [])
    subcommand = argv[0] if argv[0] == "get" else ""
    assert out.startswith(f"usage: apiclient {subcommand}".rstrip())
    if not subcommand:
        for word in ("raw", "get", "set", "apply", "reboot", "report", "ephemeral-storage", "--socket-path"):
            assert word in out


@pytest.mark.parametrize(
    "subcommand", ["raw", "get", "set", "apply", "reboot", "report", "ephemeral-storage", "update", "exec"]
)
def test_help_after_a_subcommand_shows_that_subcommand(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, subcommand: str
) -> None:
    code, out, err = on_peer(capsys, peer, subcommand, "--help")
    assert (code, err, peer.requests) == (0, "", [])
    assert out.startswith(f"usage: apiclient {subcommand}")


# -- raw


def test_no_arguments_is_raw_without_uri(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert usage_error(capsys, peer) == "Missing required argument '--uri'"


def test_an_unknown_word_is_an_unknown_argument_naming_the_subcommands(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer
) -> None:
    message = usage_error(capsys, peer, "foo")
    assert message.startswith("Unknown argument 'foo': not a subcommand.")
    assert "raw, apply, exec, get, reboot, report, set, update, ephemeral-storage" in message


def test_a_mistyped_subcommand_suggests_the_closest(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    message = usage_error(capsys, peer, "sett", "motd=hi")
    assert message.startswith("Unknown argument 'sett': not a subcommand; did you mean 'set'?")


@pytest.mark.parametrize(
    ("argv", "sent"),
    [
        (["-u", "/settings"], ("GET", "/settings", b"")),
        (["raw", "--uri", "/tx/list"], ("GET", "/tx/list", b"")),
        (["raw", "-u", "/settings", "-m", "PATCH", "-d", '{"motd":"x"}'], ("PATCH", "/settings", b'{"motd":"x"}')),
        (["raw", "-u", "/x", "-X", "get"], ("get", "/x", b"")),
        (["raw", "-u", "/x", "--method", "POST", "--data", ""], ("POST", "/x", b"")),
        (["raw", "-u", "/x", "-d", "-5"], ("GET", "/x", b"-5")),
    ],
)
def test_raw_arguments(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], sent: tuple[str, str, bytes]
) -> None:
    on_peer(capsys, peer, *argv)
    [request] = peer.requests
    assert (request.method, request.uri, request.body) == sent


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["raw"], "Missing required argument '--uri'"),
        (["raw", "-u"], "Did not give argument to -u | --uri"),
        (["raw", "-u", "/x", "-m"], "Did not give argument to -m | -X | --method"),
        (["raw", "-u", "/x", "--data"], "Did not give argument to -d | --data"),
        (["raw", "-u", "/x", "--bogus"], "Unknown argument '--bogus'"),
        (["raw", "-u", "/x", "extra"], "Unknown argument 'extra'"),
    ],
)
def test_raw_usage_errors(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], message: str) -> None:
    assert usage_error(capsys, peer, *argv) == message


# -- get


@pytest.mark.parametrize(
    ("argv", "sent"),
    [
        (["get"], ["/?prefix=os.", "/?prefix=settings."]),
        (["get", "settings.motd", "os.arch"], ["/?prefix=settings.motd", "/?prefix=os.arch"]),
        (
            ["get", "settings.motd", "os.arch", "settings.motd"],
            ["/?prefix=settings.motd", "/?prefix=os.arch", "/?prefix=settings.motd"],
        ),
        (["get", "motd"], ["/?prefix=motd"]),
        (["get", "/settings?keys=settings.motd"], ["/settings?keys=settings.motd"]),
        (
            ["get", 'settings.kernel.sysctl."a.b"', "héllo wörld", ""],
            ["/?prefix=settings.kernel.sysctl.%22a.b%22", "/?prefix=h%C3%A9llo%20w%C3%B6rld", "/?prefix="],
        ),
    ],
)
def test_get_arguments(
    capsys: pytest.CaptureFixture[str], answering: ApiPeer, argv: list[str], sent: list[str]
) -> None:
    code, out, err = on_peer(capsys, answering, *argv)
    assert (code, err) == (0, "")
    assert answering.sent() == [("GET", uri) for uri in sent]
    assert json.loads(out) in ({"settings": {}}, {})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["get", "/settings", "motd"], "You can specify prefixes or a URI, but not both."),
        (["get", "motd", "/settings"], "You can specify prefixes or a URI, but not both."),
        (["get", "/settings", "/os"], "You can only specify one URI."),
        (["get", "-x"], "Unknown argument '-x'"),
        (["get", "-"], "Unknown argument '-'"),
        (["get", "x", "--", "-y"], "Unknown argument '-y'"),
        (["get", "--prefix", "settings"], "Unknown argument '--prefix'"),
        (["get", "--toml", "/settings"], "--toml prints settings: give prefixes under 'settings', not a URI."),
        (["get", "--toml", "os.arch"], "--toml prints settings: 'os.arch' is not under 'settings'"),
        (["get", "settings.motd", "--toml", "motd"], "--toml prints settings: 'motd' is not under 'settings'"),
    ],
)
def test_get_usage_errors(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], message: str) -> None:
    assert usage_error(capsys, peer, *argv) == message


def test_get_options_go_anywhere(capsys: pytest.CaptureFixture[str], answering: ApiPeer) -> None:
    code, _, err = run(capsys, answering, "get", "-s", SOCK, "motd", "--log-level", "TRACE")
    assert code == 0
    assert answering.sent() == [("GET", "/?prefix=motd")]
    assert debug_lines(err)
    code, _, _ = run(capsys, answering, "-s", "", "get", "--socket-path", SOCK)  # the last -s wins
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "sent"),
    [
        (["get", "--toml"], ["/?prefix=settings."]),
        (["get", "settings.motd", "--toml", "settings.ntp"], ["/?prefix=settings.motd", "/?prefix=settings.ntp"]),
        (["get", "--toml", "settings"], ["/?prefix=settings"]),
    ],
)
def test_get_toml_fetches_settings_prefixes(
    capsys: pytest.CaptureFixture[str], answering: ApiPeer, argv: list[str], sent: list[str]
) -> None:
    code, out, err = on_peer(capsys, answering, *argv)
    assert (code, out, err) == (0, "[settings]\n", "")
    assert answering.sent() == [("GET", uri) for uri in sent]


# -- set


@pytest.mark.parametrize(
    ("argv", "sent"),
    [
        (["set", "motd=hi"], ("/settings/keypair", {"request_payload": ["motd=hi"]})),
        (
            ["set", "motd=hi", 'kubernetes.node-labels."a.b"=c'],
            ("/settings/keypair", {"request_payload": ["motd=hi", 'kubernetes.node-labels."a.b"=c']}),
        ),
        (
            ["set", "settings.motd=a=b", "motd="],
            ("/settings/keypair", {"request_payload": ["settings.motd=a=b", "motd="]}),
        ),
        (["set", "-j", '{"motd":"a"}'], ("/settings", {"motd": "a"})),
        (["set", "--json", '{"settings":{"motd":"a"}}'], ("/settings", {"motd": "a"})),
        (["set", "-j", '{"settings":{"motd":"a"},"motd":"b"}'], ("/settings", {"motd": "a"})),
        (["set", "-j", '{"motd":"b","settings":{"ntp":{}}}'], ("/settings", {"motd": "b", "ntp": {}})),
        (["set", "-j", '{"motd":"a","motd":"b"}'], ("/settings", {"motd": "b"})),
        (["set", "-j", '{"motd":null}'], ("/settings", {"motd": None})),
    ],
)
def test_set_arguments(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], sent: tuple[str, object]
) -> None:
    assert on_peer(capsys, peer, *argv) == (0, "", "")
    patch, commit = peer.requests
    assert (patch.method, patch.path, patch.json()) == ("PATCH", *sent)
    assert (commit.method, commit.path, commit.query) == ("POST", "/tx/commit_and_apply", patch.query)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set"], "Must specify key=value settings or --json settings with 'set'"),
        (["set", "motd=x", "-j", "{}"], "Cannot specify key=value pairs and --json settings with 'set'"),
        (
            ["set", "-j", "{}", "--json", "{}"],
            "Can't specify the --json argument multiple times.  "
            "You can set as many settings as needed within the JSON object.",
        ),
        (["set", "motd"], "Unknown argument 'motd'"),
        (["set", "--motd", "x"], "Unknown argument '--motd'"),
        (["set", "-j"], "Did not give argument to -j | --json"),
        (["set", "-j", "[1]"], "JSON input must be an object (map)"),
        (["set", "-j", '"motd"'], "JSON input must be an object (map)"),
        (["set", "-j", '{"settings": 1}'], "JSON 'settings' value must be an object (map)"),
        (["set", "-j", '{"settings": null}'], "JSON 'settings' value must be an object (map)"),
    ],
)
def test_set_usage_errors(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], message: str) -> None:
    assert usage_error(capsys, peer, *argv) == message


@pytest.mark.parametrize("text", ["{", "motd=x", '{"motd": NaN}', ""])
def test_set_json_that_does_not_parse_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, text: str
) -> None:
    assert usage_error(capsys, peer, "set", "--json", text).startswith("Couldn't parse given JSON input: ")


# -- apply


def test_apply_sources_are_read_in_order(capsys: pytest.CaptureFixture[str], peer: ApiPeer, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[settings]\nmotd = "a"\n')
    (tmp_path / "b.json").write_text('{"settings": {"motd": "b"}}')
    assert on_peer(capsys, peer, "apply", (tmp_path / "a.toml").as_uri(), (tmp_path / "b.json").as_uri())[0] == 0
    first, second, commit = peer.requests
    assert [first.json(), second.json()] == [{"motd": "a"}, {"motd": "b"}]
    assert (commit.method, commit.path) == ("POST", "/tx/commit_and_apply")


@pytest.mark.parametrize("argv", [["apply"], ["apply", "-"]])
def test_apply_reads_stdin_without_a_source_or_for_a_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, peer: ApiPeer, argv: list[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'[settings]\nmotd = "stdin"\n')))
    assert on_peer(capsys, peer, *argv)[0] == 0
    assert peer.requests[0].json() == {"motd": "stdin"}


def test_apply_of_a_bare_path_is_a_runtime_error(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    code, out, err = on_peer(capsys, peer, "apply", "/a.toml")
    assert (code, out, peer.requests) == (1, "", [])
    assert err.startswith("Failed to apply settings: ")


@pytest.mark.parametrize("argv", [["apply", "-f", "x.toml"], ["apply", "--file"], ["apply", "file:///a", "-x"]])
def test_apply_takes_no_flags(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str]) -> None:
    assert usage_error(capsys, peer, *argv) == "apiclient apply takes no parameters, just a list of URIs."


# -- reboot


def test_reboot_takes_no_arguments(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert usage_error(capsys, peer, "reboot", "a", "b") == "Unknown arguments: a, b"
    assert on_peer(capsys, peer, "--log-level", "off", "reboot") == (0, "", "")
    assert peer.sent() == [("POST", "/actions/reboot")]


# -- report


@pytest.mark.parametrize(
    ("argv", "uri"),
    [
        (["report", "cis"], "/report/cis?type=bottlerocket"),
        (["report", "cis", "-l", "2", "-f", "json"], "/report/cis?type=bottlerocket&format=json&level=2"),
        (["report", "cis", "--level", "1"], "/report/cis?type=bottlerocket&level=1"),
        (["report", "cis-k8s", "--format", "text"], "/report/cis?type=kubernetes&format=text"),
        (["report", "cis", "-l", "-3"], "/report/cis?type=bottlerocket&level=-3"),
        (["report", "fips"], "/report/fips?"),
        (["report", "fips", "-f", "json"], "/report/fips?format=json"),
    ],
)
def test_report_requests(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], uri: str) -> None:
    peer.route("GET", uri.partition("?")[0], (200, "the report"))
    assert on_peer(capsys, peer, *argv) == (0, "the report", "")
    assert peer.sent() == [("GET", uri)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report"], "Missing or unknown subcommand for 'report'"),
        (["report", "stig"], "Missing or unknown subcommand for 'report'"),
        (["report", "cis", "-l", "two"], "Invalid argument to -l | --level"),
        (["report", "cis", "-l", "2147483648"], "Invalid argument to -l | --level"),
        (["report", "cis", "-l"], "Did not give argument to -l | --level"),
        (["report", "fips", "-l", "1"], "Unknown argument '-l'"),
        (["report", "cis", "extra"], "Unknown argument 'extra'"),
    ],
)
def test_report_usage_errors(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], message: str) -> None:
    assert usage_error(capsys, peer, *argv) == message


# -- ephemeral-storage


def ephemeral(capsys: pytest.CaptureFixture[str], peer: ApiPeer, *argv: str) -> tuple[str, str, bytes]:
    """Run `ephemeral-storage ARGV` and return the one request the peer received."""
    for path in ("init", "bind"):
        peer.route("POST", f"/actions/ephemeral-storage/{path}", (204, ""))
    on_peer(capsys, peer, "ephemeral-storage", *argv)
    [request] = peer.requests
    return request.method, request.uri, request.body


def test_ephemeral_storage_init_defaults_to_nulls(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert ephemeral(capsys, peer, "init") == (
        "POST",
        "/actions/ephemeral-storage/init",
        b'{"filesystem":null,"disks":null}',
    )


def test_ephemeral_storage_init_with_filesystem_and_disks(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    *_, body = ephemeral(capsys, peer, "init", "-t", "ext4", "--disks", "/dev/a", "/dev/b", "--disks", "/dev/c")
    assert json.loads(body) == {"filesystem": "Ext4", "disks": ["/dev/a", "/dev/b", "/dev/c"]}


def test_ephemeral_storage_init_xfs(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    *_, body = ephemeral(capsys, peer, "init", "--filesystem", "xfs")
    assert json.loads(body)["filesystem"] == "Xfs"


def test_ephemeral_storage_bind(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert ephemeral(capsys, peer, "bind", "--dirs", "/var/lib/containerd", "/var/lib/kubelet") == (
        "POST",
        "/actions/ephemeral-storage/bind",
        b'{"targets":["/var/lib/containerd","/var/lib/kubelet"]}',
    )


@pytest.mark.parametrize(
    ("argv", "uri"),
    [
        (["list-disks"], "/actions/ephemeral-storage/list-disks?"),
        (["list-dirs", "-f", "json"], "/actions/ephemeral-storage/list-dirs?format=json"),
    ],
)
def test_ephemeral_storage_lists(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], uri: str) -> None:
    assert ephemeral(capsys, peer, *argv) == ("GET", uri, b"")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ephemeral-storage"], "Missing or unknown subcommand for 'ephemeral-storage'"),
        (["ephemeral-storage", "format"], "Missing or unknown subcommand for 'ephemeral-storage'"),
        (["ephemeral-storage", "init", "-t", "btrfs"], "Unsupported filesystem type"),
        (["ephemeral-storage", "init", "--disks"], "Did not give argument to --disks"),
        (["ephemeral-storage", "init", "--disks", "--filesystem", "xfs"], "Did not give argument to --disks"),
        (["ephemeral-storage", "bind"], "Did not give arguments to bind"),
        (["ephemeral-storage", "bind", "--dirs"], "Did not give argument to --dirs"),
        (["ephemeral-storage", "list-dirs", "--bogus"], "Unknown argument '--bogus'"),
    ],
)
def test_ephemeral_storage_usage_errors(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], message: str
) -> None:
    assert usage_error(capsys, peer, *argv) == message


# -- update (run against the real server in test_update.py)


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        (["update", "check"], UpdateArgs("check")),
        (["update", "cancel"], UpdateArgs("cancel")),
        (["update", "apply"], UpdateArgs("apply", False, False)),
        (["update", "apply", "--check", "-r"], UpdateArgs("apply", True, True)),
        (["update", "apply", "--reboot", "-c"], UpdateArgs("apply", True, True)),
        (["update", "apply", "-r"], UpdateArgs("apply", False, True)),
    ],
)
def test_update_arguments(argv: list[str], parsed: UpdateArgs) -> None:
    assert parse_command_line(argv).command == parsed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["update"], "Missing or unknown subcommand for 'update'"),
        (["update", "now"], "Missing or unknown subcommand for 'update'"),
        (["update", "check", "a", "b"], "Unknown arguments: a, b"),
        (["update", "apply", "--force"], "Unknown argument '--force'"),
    ],
)
def test_update_usage_errors(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], message: str) -> None:
    assert usage_error(capsys, peer, *argv) == message


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        (["exec", "admin", "ls", "-l"], ExecArgs("admin", ("ls", "-l"), None)),
        (["exec", "-t", "admin", "sh"], ExecArgs("admin", ("sh",), True)),
        (["exec", "--tty", "-T", "admin", "sh"], ExecArgs("admin", ("sh",), False)),  # the last one wins
        (["exec", "--no-tty", "admin", "sh", "-t", "--tty"], ExecArgs("admin", ("sh", "-t", "--tty"), False)),
        (["exec", "admin", "-T", "x"], ExecArgs("admin", ("x",), False)),  # options until the command's first word
    ],
)
def test_exec_options_end_where_the_command_starts(argv: list[str], parsed: ExecArgs) -> None:
    assert parse_command_line(argv).command == parsed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["exec"], "Missing required argument 'target'"),
        (["exec", "-t"], "Missing required argument 'target'"),
        (["exec", "admin"], "Must specify a command for 'exec' to run."),
        (["exec", "--bogus", "admin", "ls"], "Unknown argument '--bogus'"),
    ],
)
def test_exec_usage_errors(capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str], message: str) -> None:
    assert usage_error(capsys, peer, *argv) == message
