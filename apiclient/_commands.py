"""The `apiclient` command line as values: each subcommand's parsed arguments and the `Invocation`.

`apiclient._parsers` makes them from argv and `apiclient.cli` runs them; `apiclient.cli`
re-exports them. Each is a `typing.NamedTuple`: immutable, equal to any tuple of the same
values, with the fields' repr (`GetArgs(prefixes=('os.',), uri=None, toml=False)`). Fields
holding several values are tuples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

if TYPE_CHECKING:
    from thar.apiclient.client import Request

__all__ = [
    "QUIET_COMMANDS",
    "ApplyArgs",
    "Command",
    "ConfirmArgs",
    "ExecArgs",
    "GetArgs",
    "HistoryArgs",
    "Invocation",
    "RawArgs",
    "RebootArgs",
    "RequestArgs",
    "RollbackArgs",
    "SetArgs",
    "UnsetArgs",
    "UnsupportedArgs",
    "UpdateArgs",
    "WatchArgs",
]


class RawArgs(NamedTuple):
    uri: str
    method: str = "GET"
    data: str | None = None


class GetArgs(NamedTuple):
    prefixes: tuple[str, ...] = ()
    uri: str | None = None
    toml: bool = False  # thar: print the settings as a TOML user-data file


class SetArgs(NamedTuple):
    items: tuple[str, ...] = ()
    settings: dict[str, Any] | None = None
    patch: list[Any] | None = None  # thar: a JSON Patch
    confirm: int | None = None  # thar: seconds within which `apiclient confirm` must follow
    dry_run: bool = False  # thar: only print what would change
    wait: bool = False  # thar: wait for the applier and print its report
    timeout: int | None = None  # thar: seconds to wait at most (--wait)


class ApplyArgs(NamedTuple):
    sources: tuple[str, ...]
    dry_run: bool = False
    wait: bool = False  # thar: wait for the applier and print its report
    timeout: int | None = None  # thar: seconds to wait at most (--wait)


class RebootArgs(NamedTuple):
    pass


class RequestArgs(NamedTuple):
    """A subcommand that is one request whose body is printed as is (report, ephemeral-storage)."""

    request: Request
    print_body: bool = True


class HistoryArgs(NamedTuple):
    generation: int | None = None
    limit: int | None = None
    before: int | None = None
    prefix: str | None = None


class RollbackArgs(NamedTuple):
    generation: int


class ConfirmArgs(NamedTuple):
    pass


class UnsetArgs(NamedTuple):
    keys: tuple[str, ...]
    confirm: int | None = None


class WatchArgs(NamedTuple):
    prefix: str | None = None
    since: int | None = None
    changes: int | None = None  # --count (`count` would hide tuple.count)


class ExecArgs(NamedTuple):
    target: str
    command: tuple[str, ...]
    tty: bool | None = None  # None: a TTY when stdin and stdout are terminals


class UpdateArgs(NamedTuple):
    action: str  # check, apply or cancel
    check: bool = False  # apply --check: refresh first; nothing to do or already applied ends there
    reboot: bool = False  # apply --reboot: reboot once the update is applied


class UnsupportedArgs(NamedTuple):
    subcommand: str
    reason: str = ""


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
    | ExecArgs
    | UpdateArgs
    | UnsupportedArgs
)


class Invocation(NamedTuple):
    """A parsed command line."""

    subcommand: str
    command: Command
    socket_path: str
    log_level: str


# Commands that only send requests through apiclient.client, which logs nothing above debug
# (apiclient.cli sets logging up for them only when a debug record could be shown).
QUIET_COMMANDS = (GetArgs, RawArgs, RequestArgs, ExecArgs, UnsupportedArgs)
