"""``apiserver``: serve thar's API on a Unix socket.

    apiserver --datastore-path /var/lib/bottlerocket/datastore/current [--socket-path /run/api.sock]
              [--socket-gid GID] [--log-level info] [--variant NAME|DIR] [--os-release PATH]
              [--applier "thar-be-settings --socket-path /run/api.sock"] [--reboot-command CMD] [--arch ARCH]
              [--policy FILE] [--boot-timeline PATH] [--generator-timeline PATH] [--exec-socket-path PATH]
              [--header-timeout S] [--idle-timeout S] [--max-connections N]
              [--max-connections-per-uid N] [--reserved-connections N]

Defaults derive from ``THAR_ROOT`` (default ``/``): the socket is ``$THAR_ROOT/run/api.sock``,
os-release ``$THAR_ROOT/usr/lib/os-release``, the containerd that ``GET /exec`` runs commands
through ``$THAR_ROOT/run/host-containerd/containerd.sock`` (host-ctr's). The variant (its settings model) comes from
``--variant``, else from ``VARIANT_ID`` in os-release, else ``thar-dev``.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from thar import variants
from thar.datastore import DatastoreError, FilesystemDataStore
from thar.logs import LEVELS, setup_logging
from thar.models import Variant, VariantError, extensions_for_family, load_variant
from thar.osrelease import in_place_updates, read_os_release
from thar.paths import thar_root, thar_root_override

from .connections import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PER_UID,
    DEFAULT_RESERVED,
    ConnectionLimits,
)
from .controller import Controller
from .errors import ApiError
from .exec import DEFAULT_EXEC_SOCKET, ExecConfig
from .policy import PolicyError, load_policy
from .routes import ServerConfig
from .server import ServerSetupError, serve
from .updates import UpdateConfig


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}, not {value}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="apiserver", description="Serve thar's settings API on a Unix socket.")
    parser.add_argument("--datastore-path", required=True, type=Path, help="the datastore (…/datastore/current)")
    parser.add_argument("--socket-path", type=Path, default=thar_root() / "run/api.sock")
    parser.add_argument("--socket-gid", type=int, default=None, help="group owner of the socket")
    parser.add_argument("--log-level", default="info", type=str.lower, choices=sorted(LEVELS))
    parser.add_argument("--variant", default=None, help="variant name or directory (default: from os-release)")
    parser.add_argument("--os-release", type=Path, default=thar_root() / "usr/lib/os-release")
    parser.add_argument(
        "--applier", default="thar-be-settings", help="settings applier command (split on spaces); 'none': no applier"
    )
    parser.add_argument("--reboot-command", default="/usr/bin/systemctl reboot --check-inhibitors=yes")
    parser.add_argument(
        "--update-dispatcher", default="thar-be-updates", help="update dispatcher command (split on spaces)"
    )
    parser.add_argument("--update-lock", type=Path, default=thar_root() / "run/lock/thar-be-updates.lock")
    parser.add_argument("--update-status", type=Path, default=thar_root() / "run/cache/thar-be-updates/status.json")
    parser.add_argument("--arch", default=platform.machine(), help="architecture reported by GET /os")
    parser.add_argument(
        "--boot-timeline", type=Path, default=thar_root() / "run/thar/boot-timeline.json",
        help="thar-boot's timeline, reported by GET /metrics",
    )  # fmt: skip
    parser.add_argument(
        "--generator-timeline", type=Path, default=thar_root() / "run/thar/generators.json",
        help="sundog's generator durations, reported by GET /metrics",
    )  # fmt: skip
    parser.add_argument(
        "--exec-socket-path", type=Path, default=thar_root() / DEFAULT_EXEC_SOCKET,
        help="the host containers' containerd socket, for GET /exec (apiclient exec); default: %(default)s",
    )  # fmt: skip
    parser.add_argument(
        "--policy", type=Path, default=None, help="access policy (TOML); default: every caller is an admin"
    )
    limits = parser.add_argument_group(
        "connections", "bounds on what callers hold open; root and the policy's admins are exempt from the "
        "per-uid cap and may use the reserved connections"
    )  # fmt: skip
    limits.add_argument(
        "--header-timeout", type=_seconds, default=DEFAULT_HEADER_TIMEOUT, metavar="S",
        help="close a connection whose request head (request line and headers) is not complete S seconds after "
        "it opened, or after the first byte of a later request (default: %(default)g)",
    )  # fmt: skip
    limits.add_argument(
        "--idle-timeout", type=_seconds, default=DEFAULT_IDLE_TIMEOUT, metavar="S",
        help="close a kept-alive connection that sends nothing for S seconds after an answer; requests being "
        "answered, such as watches, are never timed out (default: %(default)g)",
    )  # fmt: skip
    limits.add_argument(
        "--max-connections", type=_count(2), default=None, metavar="N",
        help=f"open connections in all, the reserved ones included (default: {DEFAULT_MAX_CONNECTIONS}, or what "
        "the hard RLIMIT_NOFILE leaves); the soft RLIMIT_NOFILE is raised to fit them",
    )  # fmt: skip
    limits.add_argument(
        "--max-connections-per-uid", type=_count(1), default=DEFAULT_MAX_PER_UID, metavar="N",
        help="open connections per peer uid (SO_PEERCRED), root and admins exempt (default: %(default)s)",
    )  # fmt: skip
    limits.add_argument(
        "--reserved-connections", type=_count(0), default=DEFAULT_RESERVED, metavar="N",
        help="of --max-connections, kept for root and admins (default: %(default)s)",
    )  # fmt: skip
    return parser.parse_args(argv)


def resolve_variant(spec: str | None, os_release: Path) -> Variant:
    """``--variant`` (a thar variant, a directory, or a Bottlerocket variant name), else the
    os-release VARIANT_ID, else thar-dev."""
    name = spec
    if name is None:
        with contextlib.suppress(OSError):
            fields = read_os_release(os_release)
            name = {key.upper(): value for key, value in fields.items()}.get("VARIANT_ID")
    if name is None:
        return load_variant(variants.path())
    if Path(name).is_dir():
        return load_variant(Path(name))
    if name in variants.names():
        return load_variant(variants.path(name))
    return Variant(name=name, directory=Path(name), extensions=extensions_for_family(name), defaults={})


def _in_place_updates(os_release: Path) -> bool:
    """Whether the image updates itself in place (os-release; unreadable: yes)."""
    try:
        return in_place_updates(read_os_release(os_release))
    except (OSError, UnicodeDecodeError):
        return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level, stream=sys.stderr, short_names=False, datefmt=None)
    if not args.datastore_path.exists():
        print("Datastore does not exist, did storewolf run?", file=sys.stderr)
        return 1
    try:
        policy = None if args.policy is None else load_policy(args.policy)
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        variant = resolve_variant(args.variant, args.os_release)
        datastore = FilesystemDataStore(args.datastore_path)
        controller = Controller(datastore, variant, args.os_release, args.arch)
    except (VariantError, DatastoreError, ApiError) as exc:
        print(exc, file=sys.stderr)
        return 1
    config = ServerConfig(
        applier=tuple(args.applier.split(" ")),
        reboot=tuple(args.reboot_command.split(" ")),
        policy=policy,
        root=thar_root() if thar_root_override() is not None else None,
        boot_timeline=args.boot_timeline,
        generator_timeline=args.generator_timeline,
        exec=ExecConfig(socket=args.exec_socket_path),
        updates=UpdateConfig(
            dispatcher=tuple(args.update_dispatcher.split(" ")),
            lock=args.update_lock,
            status=args.update_status,
            in_place=_in_place_updates(args.os_release),
        ),
    )
    try:
        import uvloop

        limits = ConnectionLimits(
            header_timeout=args.header_timeout,
            idle_timeout=args.idle_timeout,
            max_connections=args.max_connections,
            max_per_uid=args.max_connections_per_uid,
            reserved=args.reserved_connections,
        )
        uvloop.run(serve(controller, args.socket_path, args.socket_gid, config, limits))
    except ServerSetupError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        datastore.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
