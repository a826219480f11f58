"""Host containers in a sandbox: whether thar-boot can run them, and the programs it installs for
a boot that does.

On a host, the host-containers service's restart command runs ``host-containers``, which writes
``/etc/host-containers/NAME.env`` and runs ``systemctl enable --now host-containers@NAME.service``;
systemd runs the unit's ``host-ctr run`` on host-containerd. In a sandbox that runs them
(``--host-containers auto|on``, root, containerd, runc and a mount namespace at hand), thar-boot
is that systemd (``services.py``), and this boot's ``PATH`` starts with ``DIR/run/thar/bin``,
whose ``thar-record-restart`` records a restart as the sandbox's own does and, for
``host-containers``, then runs the real ``host-containers`` with ``HOST_CONTAINERS_SYSTEMCTL``
naming ``DIR/run/thar/systemctl``, a client of thar-boot's. Otherwise the restart is only
recorded, and the boot's output says why in one line (``status_line``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from thar.atomic import write_atomic

from .layout import Sandbox, restart_commands
from .prepare import RECORDER_PATH
from .programs import bin_dir

__all__ = [
    "CONTAINERD_ENV",
    "MODES",
    "RESTART_COMMAND",
    "HostContainersUnavailable",
    "Tools",
    "find_tools",
    "install_programs",
    "program",
    "remove_programs",
    "status_line",
]

MODES = ("auto", "on", "off")
# thar-dev's restart command for host-containers: what the sandbox runs host-containers for.
RESTART_COMMAND = "thar-record-restart host-containers"
# The containerd binary to run instead of the one on PATH (a test's, or one that is not there).
CONTAINERD_ENV = "THAR_BOOT_CONTAINERD"
SOCKET_PATH_MAX = 107  # bytes in sockaddr_un.sun_path, less the terminating NUL
# Debian's package of each binary, named in the message when it is missing.
PACKAGES = {
    "containerd": "containerd",
    "containerd-shim-runc-v2": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "unshare": "util-linux",
    "mount": "mount",
}


class HostContainersUnavailable(Exception):
    """thar-boot cannot run host containers in this sandbox, here; the message says why."""


@dataclass(frozen=True)
class Tools:
    """The binaries host containers need, found on the boot's PATH."""

    containerd: str
    ctr: str
    unshare: str


def _which(name: str, path: str) -> str:
    found = shutil.which(name, path=path)
    if found is None:
        raise HostContainersUnavailable(f"{name} not found on PATH (Debian's {PACKAGES[name]} package)")
    return found


def find_tools(sandbox: Sandbox, env: Mapping[str, str], uid: int | None = None) -> Tools:
    """The tools to run host containers in ``sandbox`` with the boot's environment ``env``;
    ``HostContainersUnavailable`` with the first reason why not (the variant's restart command,
    root, a binary, the socket path's length, a mount namespace)."""
    services = restart_commands(sandbox.variant_dir)
    if RESTART_COMMAND not in services.get("host-containers", []):
        raise HostContainersUnavailable(
            f"the variant {sandbox.variant_id} has no '{RESTART_COMMAND}' restart command for host-containers"
        )
    if sandbox.host_restarts:
        raise HostContainersUnavailable(f"the variant {sandbox.variant_id}'s restart commands are a real host's")
    uid = os.geteuid() if uid is None else uid
    if uid != 0:
        raise HostContainersUnavailable(f"containerd needs root (uid {uid})")
    path = env.get("PATH", os.defpath)
    override = env.get(CONTAINERD_ENV)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise HostContainersUnavailable(f"{CONTAINERD_ENV}={override} is not an executable file")
        containerd = override
    else:
        containerd = _which("containerd", path)
    tools = Tools(containerd, env.get("HOST_CTR_CTR") or _which("ctr", path), _which("unshare", path))
    for name in ("containerd-shim-runc-v2", "runc", "mount"):
        _which(name, path)
    ttrpc = os.fsencode(f"{sandbox.containerd_socket}.ttrpc")  # containerd's longest socket
    if len(ttrpc) > SOCKET_PATH_MAX:
        raise HostContainersUnavailable(
            f"containerd's socket {os.fsdecode(ttrpc)} would be {len(ttrpc)} bytes long, more than the "
            f"{SOCKET_PATH_MAX} a Unix socket allows: use a shorter --root"
        )
    if sandbox.root == Path("/run") or Path("/run") in sandbox.root.parents:
        raise HostContainersUnavailable(
            f"the sandbox {sandbox.root} is below /run, which containerd's mount namespace replaces"
        )
    from thar.host_ctr.containerd import mount_namespace_error

    error = mount_namespace_error(tools.unshare)
    if error is not None:
        raise HostContainersUnavailable(error)
    return tools


def status_line(sandbox: Sandbox, reason: str | None) -> str:
    """The boot's one line about host containers: run, or why not."""
    if reason is None:
        return (
            f"host containers: run by thar-boot on its own containerd ({sandbox.containerd_socket}, started with "
            f"the first host container); log {sandbox.journal}"
        )
    return f"host containers: not run: {reason}; the host-containers restarts are only recorded"


def program(name: str, module: str) -> list[str]:
    """A thar program: its console script beside this Python, else this Python running ``module``."""
    script = bin_dir() / name
    if os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", module]


_RECORDER = """#!/bin/sh
# thar-record-restart of a sandbox boot whose host containers thar-boot runs: the restart is
# recorded by the sandbox's own thar-record-restart and, for host-containers, the real
# host-containers runs too, as on a host (its systemctl is thar-boot's: HOST_CONTAINERS_SYSTEMCTL).
{recorder} "$@" || exit
if [ "$#" -eq 1 ] && [ "$1" = host-containers ]; then
    exec {host_containers}
fi
"""

# Lean on purpose (host-containers runs it a few times per container): the built-in _socket,
# no json; the request is the arguments joined by NUL, the answer "CODE\0STDOUT\0STDERR".
_SYSTEMCTL = '''#!{python} -IS
"""systemctl for the sandbox {root}: the verbs host-containers uses (enable, disable, start,
stop, restart with --now, --no-block, --no-reload; is-active), answered by the thar-boot that
runs the sandbox (over {socket})."""
import _socket
import sys

SOCKET = {socket_text!r}


def main():
    client = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        client.connect(SOCKET)
        client.sendall("\\0".join(sys.argv[1:]).encode("utf-8", "surrogateescape"))
        client.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    except OSError as exc:
        sys.stderr.write(f"systemctl: no thar-boot runs host containers here ({{SOCKET}}: {{exc.strerror or exc}})\\n")
        return 1
    finally:
        client.close()
    reply = b"".join(chunks).decode("utf-8", "replace").split("\\0", 2)
    if len(reply) != 3 or not reply[0].isdigit():
        sys.stderr.write("systemctl: thar-boot stopped before it answered\\n")
        return 1
    sys.stdout.write(reply[1])
    sys.stderr.write(reply[2])
    return int(reply[0])


sys.exit(main())
'''


def install_programs(sandbox: Sandbox) -> None:
    """Write this boot's ``DIR/run/thar/bin/thar-record-restart`` and ``DIR/run/thar/systemctl``."""
    recorder = sandbox.root / RECORDER_PATH.lstrip("/")
    host_containers = shlex.join(program("host-containers", "thar.host_containers"))
    sandbox.boot_bin.mkdir(parents=True, exist_ok=True)
    text = _RECORDER.format(recorder=shlex.quote(str(recorder)), host_containers=host_containers)
    write_atomic(sandbox.boot_bin / "thar-record-restart", text, mode=0o755, sync=False)
    socket_path = str(sandbox.systemctl_socket)
    text = _SYSTEMCTL.format(python=sys.executable, root=sandbox.root, socket=socket_path, socket_text=socket_path)
    write_atomic(sandbox.systemctl, text, mode=0o755, sync=False)


def remove_programs(sandbox: Sandbox) -> None:
    """Remove what ``install_programs`` wrote (a later boot may not run host containers)."""
    shutil.rmtree(sandbox.boot_bin, ignore_errors=True)
    for path in (sandbox.systemctl, sandbox.systemctl_socket):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
