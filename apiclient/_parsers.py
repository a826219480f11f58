"""The `apiclient` command line: splitting argv, and the argparse parsers (one per subcommand, and the global flags').

`apiclient [GLOBAL…] [SUBCOMMAND] [ARGS…]`, as Bottlerocket's apiclient parses it
(spec/apiclient.md §1): the global flags are taken from wherever they appear (`split_argv`);
the first word that names a subcommand selects it (none means `raw`); every other token goes,
in order, to the subcommand. Each subcommand has a builder (`_get_parser`) and a reader
(`_parse_get`) that turns its tokens into its command value (`apiclient._commands`) or raises
`_Usage`, which words every usage error and carries the parser whose help to show.
`parse_command_line` puts it together into an `Invocation`.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from thar.apiclient._commands import (
    ApplyArgs,
    Command,
    ConfirmArgs,
    ExecArgs,
    GetArgs,
    HistoryArgs,
    Invocation,
    RawArgs,
    RebootArgs,
    RequestArgs,
    RollbackArgs,
    SetArgs,
    UnsetArgs,
    UpdateArgs,
    WatchArgs,
)
from thar.apiclient.client import default_socket_path
from thar.apiclient.errors import UsageError
from thar.logs import LEVELS as LOG_LEVELS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["SUBCOMMANDS", "SUBCOMMAND_PARSERS", "SplitArgv", "globals_parser", "parse_command_line", "split_argv"]

SUBCOMMANDS = (
    "raw",
    "apply",
    "exec",
    "get",
    "reboot",
    "report",
    "set",
    "update",
    "ephemeral-storage",
    # thar's additions
    "history",
    "rollback",
    "confirm",
    "unset",
    "watch",
)

# Global flags, as a user may spell them -> how split_argv hands them to the globals parser.
_GLOBAL_VALUE_FLAGS = {"-s": "--socket-path", "--socket-path": "--socket-path", "--log-level": "--log-level"}
_GLOBAL_SWITCHES = {"-v": "--verbose", "--verbose": "--verbose", "-h": "--help", "--help": "--help"}


class _Usage(Exception):
    """A usage error (or a help request, with an empty message) and the parser whose help to show."""

    def __init__(self, message: str, parser: argparse.ArgumentParser) -> None:
        super().__init__(message)
        self.message = message
        self.parser = parser


class SplitArgv(NamedTuple):
    """argv split the way Bottlerocket's apiclient reads it.

    `globals`: the global flags, spelled `--socket-path=PATH`, `--log-level=LEVEL`, `--verbose`,
    `--help`; `subcommand`: the first token naming a subcommand, if any; `rest`: every other
    token, in order.
    """

    globals: tuple[str, ...]
    subcommand: str | None
    rest: tuple[str, ...]


def split_argv(argv: Sequence[str]) -> SplitArgv:
    """Take the global flags (with their values) out of argv wherever they are, and the subcommand word.

    A global flag's value is always the next token, even one starting with `-`; a flag at the
    end is kept without a value (`--socket-path`) so that parsing reports it.
    `["get", "-s", "/x.sock", "settings.motd"]` ->
    `SplitArgv(("--socket-path=/x.sock",), "get", ("settings.motd",))`.
    """
    globals_: list[str] = []
    subcommand: str | None = None
    rest: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token in _GLOBAL_VALUE_FLAGS:
            flag = _GLOBAL_VALUE_FLAGS[token]
            value = next(tokens, None)
            globals_.append(flag if value is None else f"{flag}={value}")
        elif token in _GLOBAL_SWITCHES:
            globals_.append(_GLOBAL_SWITCHES[token])
        elif subcommand is None and token in SUBCOMMANDS:
            subcommand = token
        else:
            rest.append(token)
    return SplitArgv(tuple(globals_), subcommand, tuple(rest))


def parse_command_line(argv: Sequence[str]) -> Invocation:
    """Parse argv (without the program name) into an `Invocation`.

    Raises `_Usage` for a usage error (exit 2) or `--help` (an empty message, exit 0).
    A first word that is not a subcommand but looks like one (`apiclient sett`) is an error naming
    the subcommands.
    """
    split = split_argv(argv)
    parsed = globals_parser().parse_args(split.globals)
    if parsed.help:
        raise _Usage("", SUBCOMMAND_PARSERS[split.subcommand][0]() if split.subcommand else globals_parser())
    log_level: str = parsed.log_level
    if log_level.lower() not in LOG_LEVELS:
        globals_parser().fail(f"Invalid log level '{log_level}'")
    if split.subcommand is None and split.rest and _looks_like_a_subcommand(split.rest[0]):
        word = split.rest[0]
        import difflib

        close = difflib.get_close_matches(word, SUBCOMMANDS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        globals_parser().fail(
            f"Unknown argument '{word}': not a subcommand{hint} The subcommands are: {', '.join(SUBCOMMANDS)}"
        )
    subcommand = split.subcommand or "raw"
    build, parse = SUBCOMMAND_PARSERS[subcommand]
    command = parse(build(), list(split.rest))
    return Invocation(subcommand, command, parsed.socket_path, log_level.lower())


_WORD = re.compile(r"[a-z][a-z-]*")


def _looks_like_a_subcommand(token: str) -> bool:
    """A bare lower-case word where `raw`'s flags (its only arguments) would be."""
    return _WORD.fullmatch(token) is not None


_GLOBALS_EPILOG = (
    "global options (accepted anywhere): -s/--socket-path PATH, --log-level LEVEL, -v/--verbose; see 'apiclient --help'"
)

_TOP_DESCRIPTION = """\
Talk to thar's API server over its Unix socket.

subcommands:
  raw -u URI [-m METHOD] [-d DATA]       send any request (the default when no subcommand is given)
  get [PREFIX...] | [/URI]               print settings and other model data as JSON
  set KEY=VALUE... | set -j JSON         change settings, commit and apply them
  apply [URI...]                         apply settings from TOML or JSON: PATH, file:///PATH, http(s)://..., - (stdin)
  reboot                                 reboot the host
  report cis|cis-k8s|fips [-l N] [-f F]  print a compliance report
  ephemeral-storage init|bind|list-disks|list-dirs ...
                                         set up the host's ephemeral disks
  exec [-t|-T] TARGET COMMAND [ARG...]   run a command in a host container
  update check | apply [-c] [-r] | cancel
                                         check for, apply or cancel an OS update
  history [N] [--limit N] [--before N] [--prefix P]
                                         list commits (generations), or show generation N as a JSON Patch
  rollback N                             restore the settings of generation N (as a new generation) and apply
  confirm                                confirm commits made with 'set --confirm SECONDS'
  unset KEY...                           reset settings to their defaults (or remove them), commit and apply
  watch [PREFIX] [--since N] [--count N] print each committed change under PREFIX as a line of JSON

Run 'apiclient SUBCOMMAND --help' for a subcommand's arguments.
"""


_EXPECTED_ARGUMENT = re.compile(r"argument (?P<flags>[^:]+): expected (?:one|at least one) argument")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises `_Usage` with Bottlerocket's wording instead of exiting."""

    def __init__(self, prog: str, description: str, *, epilog: str | None = _GLOBALS_EPILOG) -> None:
        super().__init__(
            prog=prog,
            description=description,
            epilog=epilog,
            add_help=False,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def error(self, message: str) -> NoReturn:
        match = _EXPECTED_ARGUMENT.fullmatch(message)
        if match is not None:
            message = "Did not give argument to " + match.group("flags").replace("/", " | ")
        raise _Usage(message, self)

    def fail(self, message: str) -> NoReturn:
        raise _Usage(message, self)


def globals_parser() -> _Parser:
    """The global flags' parser; its help is `apiclient --help`."""
    parser = _Parser(
        "apiclient",
        _TOP_DESCRIPTION,
        epilog=None,
    )
    parser.usage = "apiclient [-s PATH] [--log-level LEVEL] [-v] [SUBCOMMAND] [ARGS...]"
    group = parser.add_argument_group("global options (accepted anywhere on the command line)")
    group.add_argument(
        "-s",
        "--socket-path",
        metavar="PATH",
        default=default_socket_path(),
        help="the API socket (default: %(default)s; $THAR_ROOT/run/api.sock when THAR_ROOT is set)",
    )
    group.add_argument(
        "--log-level",
        metavar="LEVEL",
        default="info",
        help="off, error, warn, info (default), debug or trace; logs go to stderr",
    )
    group.add_argument(
        "-v", "--verbose", dest="log_level", action="store_const", const="debug", help="the same as --log-level debug"
    )
    group.add_argument("-h", "--help", action="store_true", help="show help and exit")
    return parser


def _unknown(parser: _Parser, extras: Sequence[str]) -> None:
    if extras:
        parser.fail(f"Unknown argument '{extras[0]}'")


def _raw_parser() -> _Parser:
    parser = _Parser(
        "apiclient raw",
        "Send one request to the API and print the response body; -v also prints the status line to stderr.",
    )
    parser.add_argument("-u", "--uri", metavar="URI", help="path and query, e.g. /settings?keys=settings.motd")
    parser.add_argument("-m", "-X", "--method", metavar="METHOD", default="GET", help="sent verbatim (default: GET)")
    parser.add_argument("-d", "--data", metavar="DATA", help="request body, sent verbatim")
    return parser


def _parse_raw(parser: _Parser, rest: list[str]) -> RawArgs:
    args, extras = parser.parse_known_intermixed_args(rest)
    _unknown(parser, extras)
    if args.uri is None:
        parser.fail("Missing required argument '--uri'")
    return RawArgs(args.uri, args.method, args.data)


def _get_parser() -> _Parser:
    parser = _Parser(
        "apiclient get",
        "Print model data as JSON: the merge of each PREFIX (e.g. settings.motd, os.arch, services.ntp;\n"
        "no implicit 'settings.'), or the response of GET /URI. No arguments: os. and settings.",
    )
    parser.add_argument("tokens", nargs="*", metavar="PREFIX | /URI")
    parser.add_argument(
        "--toml",
        action="store_true",
        help="print the settings (default: all; else those under each PREFIX) as a TOML user-data file",
    )
    return parser


def _parse_get(parser: _Parser, rest: list[str]) -> GetArgs:
    args, extras = parser.parse_known_intermixed_args(rest)
    _unknown(parser, extras)
    prefixes: list[str] = []
    uri: str | None = None
    for token in args.tokens:
        if token.startswith("-"):
            parser.fail(f"Unknown argument '{token}'")
        elif token.startswith("/"):
            if uri is not None:
                parser.fail("You can only specify one URI.")
            uri = token
        else:
            prefixes.append(token)
    if uri is not None and prefixes:
        parser.fail("You can specify prefixes or a URI, but not both.")
    if args.toml:
        if uri is not None:
            parser.fail("--toml prints settings: give prefixes under 'settings', not a URI.")
        outside = [p for p in prefixes if p != "settings" and not p.startswith("settings.")]
        if outside:
            parser.fail(f"--toml prints settings: '{outside[0]}' is not under 'settings'")
        return GetArgs(tuple(prefixes) or ("settings.",), None, True)
    if uri is None and not prefixes:
        from thar.apiclient.get import DEFAULT_PREFIXES

        return GetArgs(DEFAULT_PREFIXES)
    return GetArgs(tuple(prefixes), uri)


def _set_parser() -> _Parser:
    parser = _Parser(
        "apiclient set",
        "Change settings in one transaction, then commit and apply it.\n"
        "KEY=VALUE items go to the server as given; quote an argument whose key needs quotes:\n"
        "  apiclient set motd=hi 'kubernetes.node-labels.\"my.label\"=hello'\n"
        '  apiclient set --json \'{"motd": "hi"}\'\n'
        '  apiclient set --patch \'[{"op": "add", "path": "/ntp/time-servers/-", "value": "b.example"}]\'',
    )
    parser.add_argument("-j", "--json", action="append", metavar="JSON", help="a settings object")
    parser.add_argument("--patch", metavar="JSON", help="a JSON Patch (RFC 6902) over the current settings")
    parser.add_argument("--confirm", metavar="SECONDS", help="revert unless 'apiclient confirm' follows within SECONDS")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the file diffs and restarts it would cause; change nothing"
    )
    _add_wait(parser)
    parser.add_argument("items", nargs="*", metavar="KEY=VALUE")
    return parser


def _add_wait(parser: _Parser) -> None:
    parser.add_argument(
        "--wait", action="store_true", help="wait until files are written and services restarted; print the report"
    )
    parser.add_argument("--timeout", metavar="SECONDS", help="with --wait: wait at most SECONDS (default: 120)")


def _wait_flags(parser: _Parser, args: Any) -> tuple[bool, int | None]:
    timeout = _seconds(parser, "--timeout", args.timeout)
    if timeout is not None and not args.wait:
        parser.fail("--timeout needs --wait")
    if args.wait and args.dry_run:
        parser.fail("Cannot specify --dry-run and --wait together")
    return bool(args.wait), timeout


def _seconds(parser: _Parser, flag: str, value: str | None, minimum: int = 1) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) < minimum:
        parser.fail(f"Invalid argument to {flag}: give a whole number of at least {minimum}")
    return int(value)


def _parse_set(parser: _Parser, rest: list[str]) -> SetArgs:
    args, extras = parser.parse_known_intermixed_args(rest)
    _unknown(parser, extras)
    for item in args.items:
        if "=" not in item:
            parser.fail(f"Unknown argument '{item}'")
    json_inputs: list[str] = args.json or []
    if len(json_inputs) > 1:
        parser.fail(
            "Can't specify the --json argument multiple times.  "
            "You can set as many settings as needed within the JSON object."
        )
    confirm = _seconds(parser, "--confirm", args.confirm)
    if args.dry_run and confirm is not None:
        parser.fail("Cannot specify --dry-run and --confirm together")
    dry = bool(args.dry_run)
    wait, timeout = _wait_flags(parser, args)
    if args.patch is not None:
        if args.items or json_inputs:
            parser.fail("Cannot specify --patch with key=value pairs or --json settings with 'set'")
        from thar.apiclient.set import parse_json_patch

        try:
            return SetArgs(patch=parse_json_patch(args.patch), confirm=confirm, dry_run=dry, wait=wait, timeout=timeout)
        except UsageError as exc:
            parser.fail(str(exc))
    if args.items and json_inputs:
        parser.fail("Cannot specify key=value pairs and --json settings with 'set'")
    if not args.items and not json_inputs:
        parser.fail("Must specify key=value settings or --json settings with 'set'")
    if not json_inputs:
        return SetArgs(items=tuple(args.items), confirm=confirm, dry_run=dry, wait=wait, timeout=timeout)
    from thar.apiclient.set import parse_json_settings

    try:
        settings = parse_json_settings(json_inputs[0])
        return SetArgs(settings=settings, confirm=confirm, dry_run=dry, wait=wait, timeout=timeout)
    except UsageError as exc:
        parser.fail(str(exc))


def _apply_parser() -> _Parser:
    parser = _Parser(
        "apiclient apply",
        "Apply settings documents (TOML or JSON with a top-level 'settings' table) in one commit.\n"
        "URI is a file path, file:///path, http://..., https://..., or - for stdin (the default).",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the file diffs and restarts it would cause; change nothing"
    )
    _add_wait(parser)
    parser.add_argument("sources", nargs="*", metavar="URI")
    return parser


def _parse_apply(parser: _Parser, rest: list[str]) -> ApplyArgs:
    args, extras = parser.parse_known_intermixed_args(rest)
    if extras or any(s.startswith("-") and s != "-" for s in args.sources):
        parser.fail("apiclient apply takes no parameters, just a list of URIs.")
    wait, timeout = _wait_flags(parser, args)
    return ApplyArgs(tuple(args.sources) or ("-",), bool(args.dry_run), wait, timeout)


def _reboot_parser() -> _Parser:
    return _Parser("apiclient reboot", "Reboot the host.")


def _parse_reboot(parser: _Parser, rest: list[str]) -> RebootArgs:
    if rest:
        parser.fail("Unknown arguments: " + ", ".join(rest))
    return RebootArgs()


_INT32 = re.compile(r"[+-]?[0-9]+")


def _report_parser() -> _Parser:
    return _Parser(
        "apiclient report",
        "Print a compliance report, as the server renders it.\n"
        "  report cis [-l|--level N] [-f|--format F]       CIS Bottlerocket benchmark\n"
        "  report cis-k8s [-l|--level N] [-f|--format F]   CIS Kubernetes benchmark\n"
        "  report fips [-f|--format F]                     FIPS report",
    )


def _parse_report(parser: _Parser, rest: list[str]) -> RequestArgs:
    kind = rest[0] if rest else None
    if kind not in ("cis", "cis-k8s", "fips"):
        parser.fail("Missing or unknown subcommand for 'report'")
    sub = _Parser(f"apiclient report {kind}", f"Print the {kind} report.")
    if kind != "fips":
        sub.add_argument("-l", "--level", metavar="N", help="benchmark level")
    sub.add_argument("-f", "--format", metavar="F", help="report format, e.g. text or json")
    args, extras = sub.parse_known_intermixed_args(rest[1:])
    _unknown(sub, extras)
    level: int | None = None
    if getattr(args, "level", None) is not None:
        if not _INT32.fullmatch(args.level) or not -(2**31) <= int(args.level) < 2**31:
            sub.fail("Invalid argument to -l | --level")
        level = int(args.level)
    from thar.apiclient.report import report_request

    return RequestArgs(report_request(kind, level=level, format=args.format))


def _ephemeral_storage_parser() -> _Parser:
    return _Parser(
        "apiclient ephemeral-storage",
        "Set up the host's ephemeral disks.\n"
        "  ephemeral-storage init [-t|--filesystem ext4|xfs] [--disks DISK...]\n"
        "  ephemeral-storage bind --dirs DIR...\n"
        "  ephemeral-storage list-disks [-f|--format text|json]\n"
        "  ephemeral-storage list-dirs [-f|--format text|json]",
    )


def _parse_ephemeral_storage(parser: _Parser, rest: list[str]) -> RequestArgs:
    item = rest[0] if rest else None
    from thar.apiclient import ephemeral_storage

    if item == "init":
        sub = _Parser("apiclient ephemeral-storage init", "Format the ephemeral disks (RAID0 if several).")
        sub.add_argument("-t", "--filesystem", metavar="ext4|xfs", help="default: the server's (xfs)")
        sub.add_argument("--disks", nargs="+", action="extend", metavar="DISK", help="default: every ephemeral disk")
        args, extras = sub.parse_known_intermixed_args(rest[1:])
        _unknown(sub, extras)
        if args.filesystem is not None and args.filesystem not in ephemeral_storage.FILESYSTEMS:
            sub.fail("Unsupported filesystem type")
        return RequestArgs(ephemeral_storage.init_request(args.filesystem, args.disks), print_body=False)
    if item == "bind":
        sub = _Parser("apiclient ephemeral-storage bind", "Bind-mount directories onto the ephemeral storage.")
        sub.add_argument("--dirs", nargs="+", action="extend", metavar="DIR", required=False)
        if len(rest) == 1:
            sub.fail("Did not give arguments to bind")
        args, extras = sub.parse_known_intermixed_args(rest[1:])
        _unknown(sub, extras)
        if not args.dirs:
            sub.fail("Did not give argument to --dirs")
        return RequestArgs(ephemeral_storage.bind_request(args.dirs), print_body=False)
    if item == "list-disks" or item == "list-dirs":
        sub = _Parser(f"apiclient ephemeral-storage {item}", f"Print the ephemeral storage's {item[5:]}.")
        sub.add_argument("-f", "--format", metavar="text|json", help="default: the server's (text)")
        args, extras = sub.parse_known_intermixed_args(rest[1:])
        _unknown(sub, extras)
        return RequestArgs(ephemeral_storage.list_request(item, args.format))
    parser.fail("Missing or unknown subcommand for 'ephemeral-storage'")


def _update_parser() -> _Parser:
    parser = _Parser(
        "apiclient update",
        "Update the host's OS image (A/B partition sets; the new image boots at the next reboot).\n"
        "  update check                          refresh the list of updates and print the update status\n"
        "  update apply [-c|--check] [-r|--reboot]\n"
        "                                        download and write the chosen update, mark it to boot next;\n"
        "                                        --check: refresh first, stop if there is none or it is applied;\n"
        "                                        --reboot: then reboot\n"
        "  update cancel                         boot the running image again (the update stays written)",
    )
    parser.usage = "apiclient update check | apply [-c|--check] [-r|--reboot] | cancel"
    return parser


def _parse_update(parser: _Parser, rest: list[str]) -> UpdateArgs:
    action = rest[0] if rest else None
    if action in ("check", "cancel"):
        if rest[1:]:
            parser.fail("Unknown arguments: " + ", ".join(rest[1:]))
        return UpdateArgs(action)
    if action == "apply":
        sub = _Parser("apiclient update apply", "Download and write the chosen update, and mark it to boot next.")
        sub.add_argument("-c", "--check", action="store_true", help="refresh first; stop if there is nothing to do")
        sub.add_argument("-r", "--reboot", action="store_true", help="reboot once the update is applied")
        args, extras = sub.parse_known_intermixed_args(rest[1:])
        _unknown(sub, extras)
        return UpdateArgs("apply", bool(args.check), bool(args.reboot))
    parser.fail("Missing or unknown subcommand for 'update'")


def _exec_parser() -> _Parser:
    parser = _Parser(
        "apiclient exec",
        "Run a command in a host container (e.g. admin) and exit with its exit status; its input is\n"
        "apiclient's stdin, its output (stdout and stderr together) apiclient's stdout.\n"
        "  apiclient exec admin bash\n"
        "  apiclient exec admin cat /file > file\n"
        "Options are read only before TARGET; everything after it is the command.",
    )
    parser.usage = "apiclient exec [-t|--tty] [-T|--no-tty] TARGET COMMAND [ARG...]"
    parser.add_argument(
        "-t", "--tty", action="store_true",
        help="run the command in a pseudoterminal (default: when stdin and stdout are terminals)",
    )  # fmt: skip
    parser.add_argument("-T", "--no-tty", action="store_true", help="run the command without a pseudoterminal")
    parser.add_argument("target", metavar="TARGET", help="the container to run the command in")
    parser.add_argument("command", metavar="COMMAND [ARG...]", help="the command and its arguments")
    return parser


def _parse_exec(parser: _Parser, rest: list[str]) -> ExecArgs:
    """Bottlerocket's `parse_exec_args`: `-t`/`--tty` and `-T`/`--no-tty` (the last one given
    wins) until the command starts, the first other word is the target, the rest the command."""
    tty: bool | None = None
    target: str | None = None
    command: list[str] = []
    for arg in rest:
        if not command and arg in ("-t", "--tty"):
            tty = True
        elif not command and arg in ("-T", "--no-tty"):
            tty = False
        elif not command and arg.startswith("-"):
            parser.fail(f"Unknown argument '{arg}'")
        elif target is None:
            target = arg
        else:
            command.append(arg)
    if target is None:
        parser.fail("Missing required argument 'target'")
    if not command:
        parser.fail("Must specify a command for 'exec' to run.")
    return ExecArgs(target, tuple(command), tty)


def _history_parser() -> _Parser:
    parser = _Parser(
        "apiclient history",
        "List the commits (generations), newest first, or print generation N's change as a JSON Patch.",
    )
    parser.add_argument("generation", nargs="?", metavar="N")
    parser.add_argument("--limit", metavar="N", help="only the newest N commits")
    parser.add_argument("--before", metavar="N", help="only generations below N")
    parser.add_argument("--prefix", metavar="PREFIX", help="only commits that changed a setting starting with PREFIX")
    return parser


def _parse_history(parser: _Parser, rest: list[str]) -> HistoryArgs:
    args, extras = parser.parse_known_intermixed_args(rest)
    _unknown(parser, extras)
    generation = _seconds(parser, "N", args.generation, minimum=0)
    if generation is not None and (args.limit or args.before or args.prefix):
        parser.fail("Give a generation N or filters, not both")
    return HistoryArgs(
        generation,
        _seconds(parser, "--limit", args.limit, minimum=0),
        _seconds(parser, "--before", args.before, minimum=0),
        args.prefix,
    )


def _rollback_parser() -> _Parser:
    parser = _Parser(
        "apiclient rollback",
        "Restore the settings of generation N as a new generation, and apply them\n"
        "(0: as they were before the first recorded commit). It can itself be rolled back.",
    )
    parser.add_argument("generation", metavar="N")
    return parser


def _parse_rollback(parser: _Parser, rest: list[str]) -> RollbackArgs:
    args, extras = parser.parse_known_intermixed_args(rest)
    _unknown(parser, extras)
    generation = _seconds(parser, "N", args.generation, minimum=0)
    assert generation is not None
    return RollbackArgs(generation)


def _confirm_parser() -> _Parser:
    return _Parser("apiclient confirm", "Confirm the commits made with 'set --confirm SECONDS' so none is reverted.")


def _parse_confirm(parser: _Parser, rest: list[str]) -> ConfirmArgs:
    if rest:
        parser.fail("Unknown arguments: " + ", ".join(rest))
    return ConfirmArgs()


def _unset_parser() -> _Parser:
    parser = _Parser(
        "apiclient unset",
        "Reset settings to the variant's defaults (settings without one are removed), in one transaction,\n"
        "then commit and apply it. A KEY removes everything below it too:\n"
        "  apiclient unset motd host-containers.admin 'kubernetes.node-labels.\"my.label\"'",
    )
    parser.add_argument("--confirm", metavar="SECONDS", help="revert unless 'apiclient confirm' follows within SECONDS")
    parser.add_argument("keys", nargs="+", metavar="KEY")
    return parser


def _parse_unset(parser: _Parser, rest: list[str]) -> UnsetArgs:
    args, extras = parser.parse_known_intermixed_args(rest)
    _unknown(parser, extras)
    return UnsetArgs(tuple(args.keys), _seconds(parser, "--confirm", args.confirm))


def _watch_parser() -> _Parser:
    parser = _Parser(
        "apiclient watch",
        "Print each committed change of the settings under PREFIX (default: all) as one line of JSON,\n"
        '{"generation": G, "settings": {...}} (removed settings are null), until interrupted.',
    )
    parser.add_argument("prefix", nargs="?", metavar="PREFIX")
    parser.add_argument("--since", metavar="N", help="report changes after generation N (default: from now on)")
    parser.add_argument("--count", metavar="N", help="exit after N changes")
    return parser


def _parse_watch(parser: _Parser, rest: list[str]) -> WatchArgs:
    args, extras = parser.parse_known_intermixed_args(rest)
    _unknown(parser, extras)
    return WatchArgs(args.prefix, _seconds(parser, "--since", args.since, 0), _seconds(parser, "--count", args.count))


SUBCOMMAND_PARSERS: dict[str, tuple[Callable[[], _Parser], Callable[[_Parser, list[str]], Command]]] = {
    "raw": (_raw_parser, _parse_raw),
    "get": (_get_parser, _parse_get),
    "set": (_set_parser, _parse_set),
    "apply": (_apply_parser, _parse_apply),
    "reboot": (_reboot_parser, _parse_reboot),
    "report": (_report_parser, _parse_report),
    "ephemeral-storage": (_ephemeral_storage_parser, _parse_ephemeral_storage),
    "update": (_update_parser, _parse_update),
    "exec": (_exec_parser, _parse_exec),
    "history": (_history_parser, _parse_history),
    "rollback": (_rollback_parser, _parse_rollback),
    "confirm": (_confirm_parser, _parse_confirm),
    "unset": (_unset_parser, _parse_unset),
    "watch": (_watch_parser, _parse_watch),
}
