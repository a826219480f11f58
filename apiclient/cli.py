"""The `apiclient` command line: parse argv (`apiclient._parsers`), run the command, report.

`apiclient [GLOBAL…] [SUBCOMMAND] [ARGS…]`, as Bottlerocket's apiclient parses it
(spec/apiclient.md §1). Exit status: 0 on success, 1 on a runtime error (one line on stderr),
2 on a usage error (message, blank line, usage, on stderr). `--help` prints the usage on stdout
and exits 0 (Bottlerocket's exits 2).

Each command is one library call in its verb module, imported when that command runs; logging
is set up only when a record could be shown: `apiclient` runs at every boot step and in
scripts, so its start-up time matters.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from thar.apiclient._commands import (
    QUIET_COMMANDS,
    ApplyArgs,
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
    UnsupportedArgs,
    UpdateArgs,
    WatchArgs,
)
from thar.apiclient._parsers import SUBCOMMANDS, SplitArgv, _Usage, parse_command_line, split_argv
from thar.apiclient.errors import ApiClientError, NotSupported, ResponseStatus
from thar.logs import DEBUG
from thar.logs import LEVELS as LOG_LEVELS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "SUBCOMMANDS",
    "ApplyArgs",
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
    "SplitArgv",
    "UnsetArgs",
    "UnsupportedArgs",
    "UpdateArgs",
    "WatchArgs",
    "main",
    "parse_command_line",
    "pretty_json",
    "run",
    "split_argv",
]

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
    "exec": "Failed to exec",
}

# Subcommands whose error line is Bottlerocket's, word for word: scripts parse raw's
# (`Status 423 when POSTing …`: Bottlerocket's update operator takes the status from there).
_VERBATIM = frozenset({"raw"})


def pretty_json(value: Any) -> str:
    """`value` as Bottlerocket's apiclient prints JSON (serde_json's `to_string_pretty` of a `Value`):
    2-space indentation, object keys sorted, non-ASCII as is, and a newline."""
    import json

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def run(invocation: Invocation) -> int:
    """Run a parsed command: one library call, then print its result; returns the exit status (0,
    or for `exec` the command's). Raises `ApiClientError`."""
    command = invocation.command
    socket_path = invocation.socket_path
    if isinstance(command, ExecArgs):
        from thar.apiclient.exec import exec_command

        sys.stdout.flush()
        return exec_command(socket_path, command.target, command.command, command.tty)
    if isinstance(command, GetArgs):
        from thar.apiclient.get import get_prefixes, get_uri

        if command.uri is not None:
            value, text = get_uri(socket_path, command.uri)
            if text is not None:  # not JSON (/metrics): shown as it is
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
                return 0
        else:
            value = get_prefixes(socket_path, command.prefixes, strict=True)
        if command.toml:
            from thar.apiclient.user_data import user_data_toml

            sys.stdout.write(user_data_toml(value))
        else:
            sys.stdout.write(pretty_json(value))
    elif isinstance(command, RawArgs):
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
        elif command.wait:
            from thar.apiclient.set import set_and_wait

            _print_report(lambda: set_and_wait(socket_path, items=command.items, settings=command.settings,
                                               patch=command.patch, confirm=command.confirm,
                                               timeout=command.timeout))  # fmt: skip
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
        elif command.wait:
            from thar.apiclient.apply import apply_and_wait

            _print_report(lambda: apply_and_wait(socket_path, command.sources, timeout=command.timeout))
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

        watch(socket_path, command.prefix, show, since=command.since, count=command.changes)
    elif isinstance(command, RequestArgs):
        if invocation.subcommand == "ephemeral-storage":
            from thar.apiclient.ephemeral_storage import send_request
        else:
            from thar.apiclient.report import get_report as send_request

        body = send_request(socket_path, command.request)
        if command.print_body:
            sys.stdout.write(body)
    elif isinstance(command, UpdateArgs):
        _update(socket_path, command)
    elif isinstance(command, UnsupportedArgs):
        raise NotSupported(command.subcommand, command.reason)
    else:
        raise TypeError(f"not a command this module runs: {command!r}")
    return 0


def _update(socket_path: str, command: UpdateArgs) -> None:
    from thar.apiclient import update

    def show(body: str, status: Any) -> None:
        if status is None:  # not JSON: shown as it came
            import logging

            logging.getLogger("apiclient").warning("Update status is not JSON; printing it as it is")
            sys.stdout.write(body if body.endswith("\n") else body + "\n")
        else:
            sys.stdout.write(pretty_json(status))
        sys.stdout.flush()

    if command.action == "check":
        show(*update.check_updates(socket_path))
    elif command.action == "apply":
        update.apply_update(socket_path, check=command.check, reboot=command.reboot, show_status=show)
    else:
        update.cancel_update(socket_path)


def _print_report(wait: Callable[[], dict[str, Any]]) -> None:
    """thar: `--wait`: print the apply's report (also when it failed, before its error is raised)."""
    from thar.apiclient.transaction import ApplyFailed, format_report

    try:
        report = wait()
    except ApplyFailed as exc:
        sys.stdout.write(format_report(exc.report))
        raise
    sys.stdout.write(format_report(report))


def _may_log(invocation: Invocation) -> bool:
    """Whether the command could log a record at its log level, so that logging needs setting up.

    Once `logging` is imported (by an earlier command in this process, or by a program using
    apiclient as a library) the answer is always yes, so that every run resets the handler and level.
    """
    if "logging" in sys.modules or LOG_LEVELS[invocation.log_level] <= DEBUG:
        return True
    return not isinstance(invocation.command, QUIET_COMMANDS)


def _error_line(exc: ApiClientError, wrapper: str | None) -> str:
    """The one stderr line of a runtime error. When the server refused a request, its reason
    leads (``settings.motd: …``) and what was being done follows, naming the request once:
    ``{reason} ({wrapper}: Failed PATCH request to '{uri}', status 400)``. Otherwise
    Bottlerocket's wording, ``{wrapper}: {error}``."""
    full = f"{wrapper}: {exc}" if wrapper else str(exc)
    cause: object = exc
    while not isinstance(cause, ResponseStatus) and getattr(cause, "cause", None) is not None:
        cause = getattr(cause, "cause")  # noqa: B009 (any error of the chain may carry one)
    if not isinstance(cause, ResponseStatus) or not cause.body.strip():
        return full
    told = f": {cause}"  # "Status N when METHODing URI: BODY", at the end of the chain
    context = full.removesuffix(told) if full.endswith(told) else f"{cause.method} {cause.uri}"
    reason = cause.body.strip()
    # Bottlerocket's keypair refusal ends with its cause ("…  Cause: settings.x = …: rule"): lead with it.
    said, marker, why = reason.partition("  Cause: ")
    if marker and why:
        reason = f"{why.strip()}. {said.strip()}"
    return f"{reason} ({context}, status {cause.status})"


def main(argv: Sequence[str] | None = None) -> int:
    """The `apiclient` entry point; returns the exit status (0 success or help, 1 runtime error, 2 usage)."""
    try:
        invocation = parse_command_line(sys.argv[1:] if argv is None else argv)
    except _Usage as usage:
        help_text = usage.parser.format_help()
        if not usage.message:
            sys.stdout.write(help_text)
            return 0
        print(f"{usage.message}\n\n{help_text}", end="", file=sys.stderr)
        return 2
    if _may_log(invocation):
        from thar.apiclient.logs import setup_logging

        setup_logging(invocation.log_level)
    try:
        status = run(invocation)
        sys.stdout.flush()  # here, where a closed pipe can still be handled
    except ApiClientError as exc:
        if invocation.subcommand in _VERBATIM:
            print(exc, file=sys.stderr)
            return 1
        wrapper = _WRAPPERS.get(invocation.subcommand)
        unwrapped = wrapper is None or isinstance(exc, NotSupported)
        print(_error_line(exc, None if unwrapped else wrapper), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`apiclient get | head`): say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status
