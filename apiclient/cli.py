"""The `apiclient` command line: argument parsing only; the verb modules talk to the API.

`apiclient [GLOBAL…] [SUBCOMMAND] [ARGS…]`, as Bottlerocket's apiclient parses it
(spec/apiclient.md §1): the global flags are taken from wherever they appear; the first word
that names a subcommand selects it (none means `raw`); every other token goes, in order, to the
subcommand. Exit status: 0 on success, 1 on a runtime error (one line on stderr), 2 on a usage
error or `--help` (message, blank line, usage, on stderr).

The common case, `apiclient get PREFIX...`, is read here without argparse, and logging is set
up only when a record could be shown: `apiclient` runs at every boot step and in scripts, so
its start-up time matters. Everything else goes through the argparse parsers in
`apiclient._parsers`, which also word every usage error and print every `--help`.
"""

from __future__ import annotations

import os
import sys

from thar.apiclient._record import Record
from thar.apiclient.client import default_socket_path
from thar.apiclient.errors import ApiClientError
from thar.logs import DEBUG
from thar.logs import LEVELS as LOG_LEVELS

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs start-up time
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import NoReturn, TypeAlias


__all__ = [
    "SUBCOMMANDS",
    "ApplyArgs",
    "ConfirmArgs",
    "GetArgs",
    "HistoryArgs",
    "Invocation",
    "RawArgs",
    "RebootArgs",
    "RequestArgs",
    "RollbackArgs",
    "SetArgs",
    "SplitArgv",
    "UnsetArgs",
    "UnsupportedArgs",
    "WatchArgs",
    "main",
    "parse_command_line",
    "run",
    "split_argv",
]

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

# The wrapper each subcommand puts before a runtime error (raw's errors carry their own).
_WRAPPERS = {
    "get": "Failed to get settings",
    "set": "Failed to change settings",
    "apply": "Failed to apply settings",
    "reboot": "Failed to reboot",
    "report": "Failed to get report",
    # Bottlerocket uses this one wrapper for all four ephemeral-storage subcommands.
    "ephemeral-storage": "Failed to initialize ephemeral storage",
    "history": "Failed to get history",
    "rollback": "Failed to roll back",
    "confirm": "Failed to confirm",
    "unset": "Failed to reset settings",
    "watch": "Failed to watch settings",
}


class _Usage(Exception):
    """A usage error (or a help request, with an empty message) and the parser whose help to show."""

    def __init__(self, message: str, parser: argparse.ArgumentParser) -> None:
        super().__init__(message)
        self.message = message
        self.parser = parser


# ---------------------------------------------------------------------------------------------
# Splitting argv: globals, the subcommand word, the subcommand's tokens


class SplitArgv(Record):
    """argv split the way Bottlerocket's apiclient reads it.

    `globals`: the global flags, spelled `--socket-path=PATH`, `--log-level=LEVEL`, `--verbose`,
    `--help`; `subcommand`: the first token naming a subcommand, if any; `rest`: every other
    token, in order.
    """

    _fields = ("globals", "subcommand", "rest")
    __slots__ = _fields
    globals: list[str]
    subcommand: str | None
    rest: list[str]

    def __init__(self, globals: list[str], subcommand: str | None, rest: list[str]) -> None:
        self._init(globals, subcommand, rest)


def split_argv(argv: Sequence[str]) -> SplitArgv:
    """Take the global flags (with their values) out of argv wherever they are, and the subcommand word.

    A global flag's value is always the next token, even one starting with `-`; a flag at the
    end is kept without a value (`--socket-path`) so that parsing reports it.
    `["get", "-s", "/x.sock", "settings.motd"]` ->
    `SplitArgv(["--socket-path=/x.sock"], "get", ["settings.motd"])`.
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
    return SplitArgv(globals_, subcommand, rest)


# ---------------------------------------------------------------------------------------------
# The parsed command line (immutable values, equal when every field is)


class GetArgs(Record):
    _fields = ("prefixes", "uri")
    __slots__ = _fields
    prefixes: list[str]
    uri: str | None

    def __init__(self, prefixes: list[str] | None = None, uri: str | None = None) -> None:
        self._init([] if prefixes is None else prefixes, uri)


if TYPE_CHECKING:
    # The other commands' values live in apiclient._commands, imported only to parse or run one
    # of them; this module serves them too (see __getattr__).
    from thar.apiclient._commands import (
        ApplyArgs,
        ConfirmArgs,
        HistoryArgs,
        RawArgs,
        RebootArgs,
        RequestArgs,
        RollbackArgs,
        SetArgs,
        UnsetArgs,
        UnsupportedArgs,
        WatchArgs,
    )

    Command: TypeAlias = (
        RawArgs
        | GetArgs
        | SetArgs
        | ApplyArgs
        | RebootArgs
        | RequestArgs
        | HistoryArgs
        | RollbackArgs
        | ConfirmArgs
        | UnsetArgs
        | WatchArgs
        | UnsupportedArgs
    )

_COMMAND_CLASSES = frozenset(
    {
        "ApplyArgs",
        "ConfirmArgs",
        "HistoryArgs",
        "RawArgs",
        "RebootArgs",
        "RequestArgs",
        "RollbackArgs",
        "SetArgs",
        "UnsetArgs",
        "UnsupportedArgs",
        "WatchArgs",
    }
)


def __getattr__(name: str) -> type[Record]:
    # `from apiclient.cli import SetArgs` and the like: apiclient._commands' classes.
    if name in _COMMAND_CLASSES:
        from thar.apiclient import _commands

        cls: type[Record] = getattr(_commands, name)
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Invocation(Record):
    """A parsed command line."""

    _fields = ("subcommand", "command", "socket_path", "log_level")
    __slots__ = _fields
    subcommand: str
    command: Command
    socket_path: str
    log_level: str

    def __init__(self, subcommand: str, command: Command, socket_path: str, log_level: str) -> None:
        self._init(subcommand, command, socket_path, log_level)


def _get_args(tokens: Sequence[str], fail: Callable[[str], NoReturn]) -> GetArgs:
    """`apiclient get`'s positional tokens as `GetArgs`; `fail` raises a usage error."""
    prefixes: list[str] = []
    uri: str | None = None
    for token in tokens:
        if token.startswith("-"):
            fail(f"Unknown argument '{token}'")
        elif token.startswith("/"):
            if uri is not None:
                fail("You can only specify one URI.")
            uri = token
        else:
            prefixes.append(token)
    if uri is not None and prefixes:
        fail("You can specify prefixes or a URI, but not both.")
    if uri is None and not prefixes:
        from thar.apiclient.get import DEFAULT_PREFIXES

        prefixes = list(DEFAULT_PREFIXES)
    return GetArgs(prefixes, uri)


def _get_usage_error(message: str) -> NoReturn:
    from thar.apiclient._parsers import _get_parser

    _get_parser().fail(message)


def _read_globals(globals_: Sequence[str]) -> tuple[str, str, bool] | None:
    """(socket path, log level, help?) from `split_argv`'s globals, as the globals parser reads them.

    None when a flag has no value: the parser then reports it.
    """
    socket_path = default_socket_path()
    log_level = "info"
    help_ = False
    for flag in globals_:
        name, equals, value = flag.partition("=")
        if name == "--socket-path" and equals:
            socket_path = value
        elif name == "--log-level" and equals:
            log_level = value
        elif flag == "--verbose":
            log_level = "debug"
        elif flag == "--help":
            help_ = True
        else:
            return None
    return socket_path, log_level, help_


def _read_command(subcommand: str, rest: list[str]) -> Command | None:
    """The command `apiclient._parsers` would make of a plain `get`: tokens none of which is an option.

    None for anything else: the subcommand's parser reads it.
    """
    if subcommand == "get" and not any(token.startswith("-") for token in rest):
        return _get_args(rest, _get_usage_error)
    return None


def parse_command_line(argv: Sequence[str]) -> Invocation:
    """Parse argv (without the program name) into an `Invocation`.

    Raises `_Usage` for a usage error or `--help`; `main` turns it into exit 2.
    """
    split = split_argv(argv)
    subcommand = split.subcommand
    options = _read_globals(split.globals)
    if options is None:
        from thar.apiclient._parsers import globals_parser

        parsed = globals_parser().parse_args(split.globals)
        options = parsed.socket_path, parsed.log_level, parsed.help
    socket_path, log_level, help_ = options
    if help_:
        from thar.apiclient._parsers import SUBCOMMAND_PARSERS, globals_parser

        raise _Usage("", SUBCOMMAND_PARSERS[subcommand][0]() if subcommand else globals_parser())
    if log_level.lower() not in LOG_LEVELS:
        from thar.apiclient._parsers import globals_parser

        globals_parser().fail(f"Invalid log level '{log_level}'")
    subcommand = subcommand or "raw"
    command = _read_command(subcommand, split.rest)
    if command is None:
        from thar.apiclient._parsers import SUBCOMMAND_PARSERS

        build, parse = SUBCOMMAND_PARSERS[subcommand]
        command = parse(build(), split.rest)
    return Invocation(subcommand, command, socket_path, log_level.lower())


# ---------------------------------------------------------------------------------------------
# Running a parsed command


def run(invocation: Invocation) -> None:
    """Run a parsed command: one library call, then print its result. Raises `ApiClientError`."""
    command = invocation.command
    socket_path = invocation.socket_path
    if isinstance(command, GetArgs):
        import json

        from thar.apiclient.get import get_json, get_prefixes

        value = (
            get_json(socket_path, command.uri)
            if command.uri is not None
            else get_prefixes(socket_path, command.prefixes)
        )
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    else:
        from thar.apiclient._commands import run_command

        run_command(invocation)


def _may_log(invocation: Invocation) -> bool:
    """Whether the command could log a record at its log level, so that logging needs setting up.

    Once `logging` is imported (by an earlier command in this process, or by a program using
    apiclient as a library) the answer is always yes, so that every run resets the handler and level.
    """
    if "logging" in sys.modules or LOG_LEVELS[invocation.log_level] <= DEBUG:
        return True
    if isinstance(invocation.command, GetArgs):  # apiclient.get and .client log nothing above debug
        return False
    from thar.apiclient._commands import QUIET_COMMANDS  # already imported: it made the command

    return not isinstance(invocation.command, QUIET_COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """The `apiclient` entry point; returns the exit status (0, 1 runtime error, 2 usage)."""
    try:
        invocation = parse_command_line(sys.argv[1:] if argv is None else argv)
    except _Usage as usage:
        help_text = usage.parser.format_help()
        print(f"{usage.message}\n\n{help_text}" if usage.message else help_text, end="", file=sys.stderr)
        return 2
    if _may_log(invocation):
        from thar.apiclient.logs import setup_logging

        setup_logging(invocation.log_level)
    try:
        run(invocation)
        sys.stdout.flush()  # here, where a closed pipe can still be handled
    except ApiClientError as exc:
        wrapper = _WRAPPERS.get(invocation.subcommand)
        print(f"{wrapper}: {exc}" if wrapper else str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`apiclient get | head`): say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0
