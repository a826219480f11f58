"""The `apiclient` commands other than `get`: their parsed arguments and how each is run.

`apiclient.cli` reads and runs `apiclient get` itself; this module is imported for every other
subcommand (its argparse parsers in `apiclient._parsers` make these values), so that `get`
does not pay for it. The classes are re-exported by `apiclient.cli`.
"""

from __future__ import annotations

import sys

from thar.apiclient._record import Record
from thar.apiclient.errors import NotSupported
from thar.logs import DEBUG
from thar.logs import LEVELS as LOG_LEVELS

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from thar.apiclient.cli import Invocation
    from thar.apiclient.client import Request

__all__ = [
    "QUIET_COMMANDS",
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
    "run_command",
]


class RawArgs(Record):
    _fields = ("uri", "method", "data")
    __slots__ = _fields
    uri: str
    method: str
    data: str | None

    def __init__(self, uri: str, method: str = "GET", data: str | None = None) -> None:
        self._init(uri, method, data)


class SetArgs(Record):
    _fields = ("items", "settings", "patch", "confirm", "dry_run")
    __slots__ = _fields
    items: list[str]
    settings: dict[str, Any] | None
    patch: list[Any] | None  # thar: a JSON Patch
    confirm: int | None  # thar: seconds within which `apiclient confirm` must follow
    dry_run: bool  # thar: only print what would change

    def __init__(
        self,
        items: list[str] | None = None,
        settings: dict[str, Any] | None = None,
        patch: list[Any] | None = None,
        confirm: int | None = None,
        dry_run: bool = False,
    ) -> None:
        self._init([] if items is None else items, settings, patch, confirm, dry_run)


class ApplyArgs(Record):
    _fields = ("sources", "dry_run")
    __slots__ = _fields
    sources: list[str]
    dry_run: bool

    def __init__(self, sources: list[str], dry_run: bool = False) -> None:
        self._init(sources, dry_run)


class RebootArgs(Record):
    _fields = ()
    __slots__ = _fields


class RequestArgs(Record):
    """A subcommand that is one request whose body is printed as is (report, ephemeral-storage)."""

    _fields = ("request", "print_body")
    __slots__ = _fields
    request: Request
    print_body: bool

    def __init__(self, request: Request, print_body: bool = True) -> None:
        self._init(request, print_body)


class HistoryArgs(Record):
    _fields = ("generation", "limit", "before", "prefix")
    __slots__ = _fields
    generation: int | None
    limit: int | None
    before: int | None
    prefix: str | None

    def __init__(
        self,
        generation: int | None = None,
        limit: int | None = None,
        before: int | None = None,
        prefix: str | None = None,
    ) -> None:
        self._init(generation, limit, before, prefix)


class RollbackArgs(Record):
    _fields = ("generation",)
    __slots__ = _fields
    generation: int

    def __init__(self, generation: int) -> None:
        self._init(generation)


class ConfirmArgs(Record):
    _fields = ()
    __slots__ = _fields


class UnsetArgs(Record):
    _fields = ("keys", "confirm")
    __slots__ = _fields
    keys: list[str]
    confirm: int | None

    def __init__(self, keys: list[str], confirm: int | None = None) -> None:
        self._init(keys, confirm)


class WatchArgs(Record):
    _fields = ("prefix", "since", "count")
    __slots__ = _fields
    prefix: str | None
    since: int | None
    count: int | None

    def __init__(self, prefix: str | None = None, since: int | None = None, count: int | None = None) -> None:
        self._init(prefix, since, count)


class UnsupportedArgs(Record):
    _fields = ("subcommand", "reason")
    __slots__ = _fields
    subcommand: str
    reason: str

    def __init__(self, subcommand: str, reason: str = "") -> None:
        self._init(subcommand, reason)


# Commands that only send requests through apiclient.client, which logs nothing above debug
# (apiclient.cli sets logging up for them only when a debug record could be shown).
QUIET_COMMANDS = (RawArgs, RequestArgs, UnsupportedArgs)


def run_command(invocation: Invocation) -> None:
    """Run a parsed command other than `get` (see `apiclient.cli.run`). Raises `ApiClientError`."""
    command = invocation.command
    socket_path = invocation.socket_path
    if isinstance(command, RawArgs):
        from thar.apiclient.raw import raw, status_line

        status, body = raw(socket_path, command.uri, command.method, command.data)
        if LOG_LEVELS[invocation.log_level] <= DEBUG:
            print(status_line(status), file=sys.stderr)
        if body:
            sys.stdout.write(body + "\n")
    elif isinstance(command, SetArgs):
        from thar.apiclient.set import dry_run_settings, set_json_patch, set_keypairs, set_settings

        if command.dry_run:
            result = dry_run_settings(socket_path, items=command.items, settings=command.settings, patch=command.patch)
            sys.stdout.write(result["diff"])
        elif command.patch is not None:
            set_json_patch(socket_path, command.patch, confirm=command.confirm)
        elif command.settings is not None:
            set_settings(socket_path, command.settings, confirm=command.confirm)
        else:
            set_keypairs(socket_path, command.items, confirm=command.confirm)
    elif isinstance(command, ApplyArgs):
        from thar.apiclient.apply import apply_sources, dry_run_sources

        if command.dry_run:
            sys.stdout.write(dry_run_sources(socket_path, command.sources)["diff"])
        else:
            apply_sources(socket_path, command.sources)
    elif isinstance(command, RebootArgs):
        from thar.apiclient.reboot import reboot

        reboot(socket_path)
    elif isinstance(command, HistoryArgs):
        import json

        from thar.apiclient import history

        if command.generation is not None:
            patch = history.generation_patch(socket_path, command.generation)
            sys.stdout.write(json.dumps(patch, indent=2, ensure_ascii=False) + "\n")
        else:
            entries = history.history(socket_path, command.limit, command.before, command.prefix)
            sys.stdout.write(history.format_history(entries))
    elif isinstance(command, RollbackArgs):
        from thar.apiclient.history import rollback

        keys = rollback(socket_path, command.generation)
        import logging

        logging.getLogger("apiclient").info("Rolled back to generation %d: %d setting(s) changed", command.generation,
                                            len(keys))  # fmt: skip
    elif isinstance(command, ConfirmArgs):
        from thar.apiclient.history import confirm

        confirm(socket_path)
    elif isinstance(command, UnsetArgs):
        from thar.apiclient.unset import unset

        unset(socket_path, command.keys, command.confirm)
    elif isinstance(command, WatchArgs):
        import json

        from thar.apiclient.watch import watch

        def show(event: dict[str, Any]) -> None:
            sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
            sys.stdout.flush()

        watch(socket_path, command.prefix, show, since=command.since, count=command.count)
    elif isinstance(command, RequestArgs):
        from thar.apiclient.client import send

        body = send(socket_path, command.request)
        if command.print_body:
            sys.stdout.write(body)
    elif isinstance(command, UnsupportedArgs):
        raise NotSupported(command.subcommand, command.reason)
    else:
        raise TypeError(f"not a command this module runs: {command!r}")
