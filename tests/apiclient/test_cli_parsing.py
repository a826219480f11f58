"""The command line model of spec/apiclient.md §1 and each subcommand's arguments (no server needed)."""

from __future__ import annotations

import json

import pytest

from thar.apiclient import cli
from thar.apiclient.cli import (
    ApplyArgs,
    GetArgs,
    Invocation,
    RawArgs,
    RebootArgs,
    RequestArgs,
    SetArgs,
    SplitArgv,
    UnsupportedArgs,
    _Usage,
    main,
    parse_command_line,
    split_argv,
)
from thar.apiclient.client import Request


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run argv, expect a usage error, and return its message (the part before the blank line)."""
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    message, _, usage = err.partition("\n\n")
    assert "usage: apiclient" in usage
    return message


# -- split_argv: globals anywhere, the first subcommand word, everything else in order


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], SplitArgv([], None, [])),
        (["get", "settings.motd"], SplitArgv([], "get", ["settings.motd"])),
        (["-s", "/x.sock", "get"], SplitArgv(["--socket-path=/x.sock"], "get", [])),
        (
            ["get", "settings.motd", "--socket-path", "/x.sock"],
            SplitArgv(["--socket-path=/x.sock"], "get", ["settings.motd"]),
        ),
        (
            ["set", "-v", "motd=a", "--log-level", "trace"],
            SplitArgv(["--verbose", "--log-level=trace"], "set", ["motd=a"]),
        ),
        (["raw", "-u", "/get", "get"], SplitArgv([], "raw", ["-u", "/get", "get"])),
        (["-u", "/x", "get"], SplitArgv([], "get", ["-u", "/x"])),
        (["-s", "--log-level"], SplitArgv(["--socket-path=--log-level"], None, [])),
        (["-s", "get", "raw"], SplitArgv(["--socket-path=get"], "raw", [])),
        (["get", "-s"], SplitArgv(["--socket-path"], "get", [])),
        (["ephemeral-storage", "--help"], SplitArgv(["--help"], "ephemeral-storage", [])),
    ],
)
def test_globals_are_taken_from_anywhere_and_the_first_subcommand_word_selects(
    argv: list[str], expected: SplitArgv
) -> None:
    assert split_argv(argv) == expected


# -- globals


def test_default_socket_is_run_api_sock() -> None:
    assert parse_command_line(["get"]).socket_path == "/run/api.sock"


def test_default_socket_is_under_thar_root_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THAR_ROOT", "/tmp/sandbox")
    assert parse_command_line(["get"]).socket_path == "/tmp/sandbox/run/api.sock"
    assert parse_command_line(["get", "-s", "/other.sock"]).socket_path == "/other.sock"


def test_global_flags_after_the_subcommand_are_honoured() -> None:
    invocation = parse_command_line(["get", "settings.motd", "-s", "/x.sock", "--log-level", "WARN"])
    assert invocation == Invocation("get", GetArgs(["settings.motd"]), "/x.sock", "warn")


def test_verbose_means_log_level_debug() -> None:
    assert parse_command_line(["-v", "raw", "-u", "/"]).log_level == "debug"
    assert parse_command_line(["--verbose", "raw", "-u", "/"]).log_level == "debug"


def test_default_log_level_is_info() -> None:
    assert parse_command_line(["raw", "-u", "/"]).log_level == "info"


@pytest.mark.parametrize("level", ["off", "ERROR", "warn", "Info", "debug", "TRACE"])
def test_log_levels_are_case_insensitive(level: str) -> None:
    assert parse_command_line(["--log-level", level, "raw", "-u", "/"]).log_level == level.lower()


def test_log_levels_are_the_logging_module_levels() -> None:
    """The level table is written out (apiclient.cli reads it without importing logging)."""
    import logging

    from thar.apiclient.logs import LOG_LEVELS, TRACE

    assert LOG_LEVELS == {
        "off": logging.CRITICAL + 10,
        "error": logging.ERROR,
        "warn": logging.WARNING,
        "info": logging.INFO,
        "debug": logging.DEBUG,
        "trace": logging.DEBUG - 5,
    }
    assert TRACE == logging.DEBUG - 5


def test_a_bad_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(capsys, "--log-level", "loud", "get") == "Invalid log level 'loud'"


def test_socket_flag_without_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(capsys, "get", "-s") == "Did not give argument to -s | --socket-path"


def test_log_level_flag_without_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(capsys, "get", "--log-level") == "Did not give argument to --log-level"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_prints_usage_on_stderr_and_exits_2(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    code, out, err = run(capsys, flag)
    assert (code, out) == (2, "")
    assert err.startswith("usage: apiclient")
    for word in ("raw", "get", "set", "apply", "reboot", "report", "ephemeral-storage", "--socket-path"):
        assert word in err


@pytest.mark.parametrize(
    "subcommand", ["raw", "get", "set", "apply", "reboot", "report", "ephemeral-storage", "update", "exec"]
)
def test_help_after_a_subcommand_shows_that_subcommand(capsys: pytest.CaptureFixture[str], subcommand: str) -> None:
    code, out, err = run(capsys, subcommand, "--help")
    assert (code, out) == (2, "")
    assert err.startswith(f"usage: apiclient {subcommand}")


# -- raw


def test_no_arguments_is_raw_without_uri(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(capsys) == "Missing required argument '--uri'"


def test_an_unknown_word_is_an_unknown_raw_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(capsys, "foo") == "Unknown argument 'foo'"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-u", "/settings"], RawArgs("/settings", "GET", None)),
        (["raw", "--uri", "/tx/list"], RawArgs("/tx/list", "GET", None)),
        (
            ["raw", "-u", "/settings", "-m", "PATCH", "-d", '{"motd":"x"}'],
            RawArgs("/settings", "PATCH", '{"motd":"x"}'),
        ),
        (["raw", "-u", "/x", "-X", "get"], RawArgs("/x", "get", None)),
        (["raw", "-u", "/x", "--method", "POST", "--data", ""], RawArgs("/x", "POST", "")),
        (["raw", "-u", "/x", "-d", "-5"], RawArgs("/x", "GET", "-5")),
    ],
)
def test_raw_arguments(argv: list[str], expected: RawArgs) -> None:
    assert parse_command_line(argv).command == expected


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
def test_raw_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert usage_error(capsys, *argv) == message


# -- get


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["get"], GetArgs(["os.", "settings."])),
        (["get", "settings.motd", "os.arch"], GetArgs(["settings.motd", "os.arch"])),
        (["get", "motd"], GetArgs(["motd"])),
        (["get", "/settings?keys=settings.motd"], GetArgs([], "/settings?keys=settings.motd")),
    ],
)
def test_get_arguments(argv: list[str], expected: GetArgs) -> None:
    assert parse_command_line(argv).command == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["get", "/settings", "motd"], "You can specify prefixes or a URI, but not both."),
        (["get", "motd", "/settings"], "You can specify prefixes or a URI, but not both."),
        (["get", "/settings", "/os"], "You can only specify one URI."),
        (["get", "-x"], "Unknown argument '-x'"),
        (["get", "--prefix", "settings"], "Unknown argument '--prefix'"),
    ],
)
def test_get_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert usage_error(capsys, *argv) == message


def parse_outcome(argv: list[str]) -> tuple[object, ...]:
    """What parse_command_line makes of argv: the invocation, or the usage error and its help text."""
    try:
        return ("parsed", parse_command_line(argv))
    except _Usage as usage:
        return ("usage", usage.message, usage.parser.format_help())


@pytest.mark.parametrize(
    "argv",
    [
        ["get"],
        ["get", "settings.motd"],
        ["get", "settings.motd", "os.arch", "settings.motd"],
        ["get", "/settings?keys=settings.motd"],
        ["get", 'settings.kernel.sysctl."a.b"', "héllo wörld", ""],
        ["get", "/settings", "/os"],
        ["get", "motd", "/settings"],
        ["get", "-x"],
        ["get", "x", "--", "-y"],
        ["get", "-"],
        ["-s", "/x.sock", "get", "motd", "--log-level", "TRACE"],
        ["get", "-v", "motd", "-s", "--log-level"],
        ["-s", "", "get", "--socket-path", "a=b=c"],
        ["get", "--log-level", "loud", "motd"],
        ["get", "--log-level", ""],
        ["get", "motd", "-s"],
        ["get", "--log-level"],
        ["get", "-h", "motd"],
        ["--help"],
        ["-v", "--log-level", "warn", "get"],
        ["--log-level", "warn", "-v", "get"],
    ],
)
def test_get_is_read_as_the_argparse_parsers_read_it(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    """`apiclient get` is read without argparse; forcing the parsers gives the same result or error."""
    fast = parse_outcome(argv)
    monkeypatch.setattr(cli, "_read_globals", lambda globals_: None)
    monkeypatch.setattr(cli, "_read_command", lambda subcommand, rest: None)
    assert parse_outcome(argv) == fast


# -- set


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["set", "motd=hi"], SetArgs(items=["motd=hi"])),
        (
            ["set", "motd=hi", 'kubernetes.node-labels."a.b"=c'],
            SetArgs(items=["motd=hi", 'kubernetes.node-labels."a.b"=c']),
        ),
        (["set", "settings.motd=a=b", "motd="], SetArgs(items=["settings.motd=a=b", "motd="])),
        (["set", "-j", '{"motd":"a"}'], SetArgs(settings={"motd": "a"})),
        (["set", "--json", '{"settings":{"motd":"a"}}'], SetArgs(settings={"motd": "a"})),
        (["set", "-j", '{"settings":{"motd":"a"},"motd":"b"}'], SetArgs(settings={"motd": "a"})),
        (["set", "-j", '{"motd":"b","settings":{"ntp":{}}}'], SetArgs(settings={"motd": "b", "ntp": {}})),
        (["set", "-j", '{"motd":"a","motd":"b"}'], SetArgs(settings={"motd": "b"})),
        (["set", "-j", '{"motd":null}'], SetArgs(settings={"motd": None})),
    ],
)
def test_set_arguments(argv: list[str], expected: SetArgs) -> None:
    assert parse_command_line(argv).command == expected


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
def test_set_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert usage_error(capsys, *argv) == message


@pytest.mark.parametrize("text", ["{", "motd=x", '{"motd": NaN}', ""])
def test_set_json_that_does_not_parse_is_a_usage_error(capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert usage_error(capsys, "set", "--json", text).startswith("Couldn't parse given JSON input: ")


# -- apply


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["apply"], ApplyArgs(["-"])),
        (["apply", "-"], ApplyArgs(["-"])),
        (["apply", "file:///a.toml", "-", "https://x/b.json"], ApplyArgs(["file:///a.toml", "-", "https://x/b.json"])),
        (["apply", "/a.toml"], ApplyArgs(["/a.toml"])),  # rejected when read, as a runtime error
    ],
)
def test_apply_arguments(argv: list[str], expected: ApplyArgs) -> None:
    assert parse_command_line(argv).command == expected


@pytest.mark.parametrize("argv", [["apply", "-f", "x.toml"], ["apply", "--file"], ["apply", "file:///a", "-x"]])
def test_apply_takes_no_flags(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert usage_error(capsys, *argv) == "apiclient apply takes no parameters, just a list of URIs."


# -- reboot


def test_reboot_takes_no_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_command_line(["reboot"]).command == RebootArgs()
    assert usage_error(capsys, "reboot", "a", "b") == "Unknown arguments: a, b"


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
def test_report_requests(argv: list[str], uri: str) -> None:
    assert parse_command_line(argv).command == RequestArgs(Request("GET", uri))


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
def test_report_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert usage_error(capsys, *argv) == message


# -- ephemeral-storage


def ephemeral(argv: list[str]) -> RequestArgs:
    command = parse_command_line(["ephemeral-storage", *argv]).command
    assert isinstance(command, RequestArgs)
    return command


def test_ephemeral_storage_init_defaults_to_nulls() -> None:
    command = ephemeral(["init"])
    assert command.request.method == "POST"
    assert command.request.uri == "/actions/ephemeral-storage/init"
    assert command.request.body == '{"filesystem":null,"disks":null}'


def test_ephemeral_storage_init_with_filesystem_and_disks() -> None:
    command = ephemeral(["init", "-t", "ext4", "--disks", "/dev/a", "/dev/b", "--disks", "/dev/c"])
    assert json.loads(command.request.body or "") == {"filesystem": "Ext4", "disks": ["/dev/a", "/dev/b", "/dev/c"]}
    assert json.loads(ephemeral(["init", "--filesystem", "xfs"]).request.body or "")["filesystem"] == "Xfs"


def test_ephemeral_storage_bind() -> None:
    command = ephemeral(["bind", "--dirs", "/var/lib/containerd", "/var/lib/kubelet"])
    assert command.request == Request(
        "POST", "/actions/ephemeral-storage/bind", '{"targets":["/var/lib/containerd","/var/lib/kubelet"]}'
    )


@pytest.mark.parametrize(
    ("argv", "uri"),
    [
        (["list-disks"], "/actions/ephemeral-storage/list-disks?"),
        (["list-dirs", "-f", "json"], "/actions/ephemeral-storage/list-dirs?format=json"),
    ],
)
def test_ephemeral_storage_lists(argv: list[str], uri: str) -> None:
    assert ephemeral(argv) == RequestArgs(Request("GET", uri))


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
def test_ephemeral_storage_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert usage_error(capsys, *argv) == message


# -- update and exec: parsed, then refused at run time


@pytest.mark.parametrize("argv", [["update", "check"], ["update", "cancel"], ["update", "apply", "--check", "-r"]])
def test_update_is_parsed_then_not_supported(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert parse_command_line(argv).command == UnsupportedArgs("update")
    code, out, err = run(capsys, "-s", "/nonexistent.sock", *argv)
    assert (code, out, err) == (1, "", "'apiclient update' is not supported by thar yet\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["update"], "Missing or unknown subcommand for 'update'"),
        (["update", "now"], "Missing or unknown subcommand for 'update'"),
        (["update", "check", "a", "b"], "Unknown arguments: a, b"),
        (["update", "apply", "--force"], "Unknown argument '--force'"),
    ],
)
def test_update_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert usage_error(capsys, *argv) == message


def test_exec_is_not_supported(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "exec", "admin", "ls", "-l")
    assert (code, out) == (1, "")
    assert err.startswith("'apiclient exec' is not supported by thar yet")
