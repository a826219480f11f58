"""``thar-boot``: boot a whole thar host in a sandbox directory, unprivileged, then serve its API.

    thar-boot --root DIR [--variant NAME|DIR] [--user-data FILE] [--host-containers auto|on|off] [--no-serve]

Exit status: 0 booted (and served until SIGINT/SIGTERM, or stopped with ``--no-serve``);
1 a step or the apiserver failed (its name and stderr are printed); 2 a usage error (or
``--host-containers on`` where they cannot run); 128 + the signal when interrupted during the
boot. See README.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import BootError, Interrupted, SandboxRefused, StepFailed
from .host_containers import (
    MODES,
    HostContainersUnavailable,
    find_tools,
    install_programs,
    remove_programs,
    status_line,
)
from .layout import DEFAULT_VARIANT, Sandbox, locked, open_sandbox
from .programs import bin_dir, child_env
from .services import Supervisor
from .signals import DEFERRAL, Signals
from .supervision import Boot

__all__ = ["boot", "main", "parse_args", "serving_message"]


def serving_message(sandbox: Sandbox) -> str:
    sock = sandbox.socket
    return (
        f"thar ({sandbox.variant_id}) is serving its API at {sock} (sandbox root: {sandbox.root}).\n"
        f"Try, in another terminal (with {bin_dir()} on PATH):\n"
        f"    apiclient --socket-path {sock} get settings.motd\n"
        f'    apiclient --socket-path {sock} set motd="hello from thar"\n'
        f"    cat {sandbox.root / 'etc/motd'}\n"
        f"Logs: {sandbox.boot_log}, {sandbox.apiserver_log}. Ctrl-C stops the server; "
        f"{sandbox.root} keeps the datastore for the next boot."
    )


def host_containers_supervisor(sandbox: Sandbox, mode: str) -> tuple[Supervisor | None, str | None]:
    """The supervisor of this boot's host containers (not started yet), or why there is none."""
    if mode == "off":
        return None, "--host-containers off"
    try:
        tools = find_tools(sandbox, child_env(sandbox))
    except HostContainersUnavailable as exc:
        return None, str(exc)
    return Supervisor(sandbox, tools, child_env(sandbox)), None


def boot(sandbox: Sandbox, user_data: Path | None = None, serve: bool = True, host_containers: str = "auto") -> int:
    """Boot the sandbox, print the timeline, then serve (or stop the apiserver). The exit status.

    ``host_containers``: ``auto`` runs them when thar-boot can (root, containerd, ...), ``on``
    exits 2 when it cannot, ``off`` only records the host-containers restarts."""
    signals = Signals()
    run = Boot(sandbox)
    supervisor: Supervisor | None = None
    try:
        with locked(sandbox):
            supervisor, reason = host_containers_supervisor(sandbox, host_containers)
            if supervisor is None:
                if host_containers == "on":
                    print(f"thar-boot: --host-containers on: {reason}", file=sys.stderr)
                    return 2
                remove_programs(sandbox)
            else:
                install_programs(sandbox)
                supervisor.start()
                run.bin_first = (sandbox.boot_bin,)
                run.extra_env = {"HOST_CONTAINERS_SYSTEMCTL": str(sandbox.systemctl)}
            try:
                run.run(user_data)
            except BootError as exc:
                run.total = time.perf_counter() - run.t0
                run.note_apiserver()
                print(run.timeline(), flush=True)
                hint = ""
                if isinstance(exc, StepFailed) and exc.step.name == "early-boot-config" and user_data is not None:
                    hint = f"\n(The user data is --user-data {user_data}, copied to {sandbox.user_data}.)"
                print(f"\nthar-boot: {exc}{hint}\nThe boot stopped there. Logs: {sandbox.boot_log}", file=sys.stderr)
                return 1
            finally:
                run.write_timeline()
            print(run.timeline(), flush=True)
            print(status_line(sandbox, reason), flush=True)
            if supervisor is not None:
                supervisor.configured = True  # configured.target: host-containers now enables --now
            apiserver = run.apiserver
            if apiserver is None:
                return 0
            signals.forward(apiserver)
            if not serve:
                run.apiserver = None
                code = apiserver.stop()
                if code != 0:
                    print(f"thar-boot: the apiserver exited with status {code} when stopped", file=sys.stderr)
                return 0 if code == 0 else 1
            print("\n" + serving_message(sandbox), flush=True)
            code = apiserver.proc.wait()
            if signals.received is None or code != 0:
                print(f"thar-boot: the apiserver exited with status {code}:\n{apiserver.log_tail()}", file=sys.stderr)
                return 1
            return 0
    except Interrupted as exc:
        print(f"\nthar-boot: interrupted by {signal.Signals(exc.signum).name}; boot stopped", file=sys.stderr)
        return 128 + exc.signum
    except BootError as exc:
        print(f"thar-boot: {exc}", file=sys.stderr)
        return 1
    finally:
        signals.mode = "ignore"
        DEFERRAL.pending = None
        run.stop_early()
        if run.apiserver is not None:
            run.apiserver.stop()
        if supervisor is not None:
            supervisor.stop()
            remove_programs(sandbox)
        signals.restore()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="thar-boot",
        description="Boot thar in a sandbox directory (storewolf, apiserver, early-boot-config, sundog, "
        "settings-committer, thar-be-settings --all), then serve the API until Ctrl-C.",
    )
    parser.add_argument("--root", required=True, type=Path, help="the sandbox directory (THAR_ROOT of every step)")
    parser.add_argument(
        "--variant",
        default=None,
        help=f"a thar variant or a variant directory (default: the sandbox's own, else {DEFAULT_VARIANT})",
    )
    parser.add_argument(
        "--user-data", type=Path, default=None,
        help="a user-data TOML file (gzip or not) for the first boot; default: DIR/var/lib/bottlerocket/user-data.toml",
    )  # fmt: skip
    parser.add_argument(
        "--host-containers", choices=MODES, default="auto",
        help="run host containers on the sandbox's own containerd: auto (when root, containerd, runc and a mount "
        "namespace are at hand; default), on (exit 2 when they are not), off (only record their restarts)",
    )  # fmt: skip
    parser.add_argument("--no-serve", action="store_true", help="stop the apiserver and exit once booted")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.user_data is not None and not args.user_data.is_file():
        print(f"thar-boot: --user-data {args.user_data}: no such file", file=sys.stderr)
        return 2
    try:
        sandbox = open_sandbox(args.root, args.variant)
    except BootError as exc:
        print(f"thar-boot: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SandboxRefused) else 1
    return boot(sandbox, args.user_data, serve=not args.no_serve, host_containers=args.host_containers)
