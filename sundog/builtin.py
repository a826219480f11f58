"""thar's built-in setting generators, for hosts (and sandboxes) without Bottlerocket's programs.

When a generator's program cannot be found (not on `PATH`, or an absolute path that does not
exist), sundog looks here for the same command line and runs it in-process instead:

| command | result |
|---|---|
| `netdog generate-hostname` | this machine's host name, made a valid one (lower case, `[0-9a-z.-]`) |
| `netdog node-ip` | the IPv4 address of the interface holding the default route, else `127.0.0.1` |
| `bork seed` | a random update wave seed, 0..2047 |
| `prairiedog generate-boot-settings` | skip (exit 2): there are no boot settings to read |

A program that does exist always wins, so a host with the real generators runs them.
"""

from __future__ import annotations

import os
import random
import re
import socket
from collections.abc import Callable, Sequence

__all__ = ["BUILTINS", "SKIP", "find_builtin"]

SKIP = object()
"""A built-in's answer meaning: exit 2, do not set this setting."""


def _hostname() -> object:
    # A valid Linux host name: lower case, [0-9a-z.-] only, at most 253 characters.
    name = re.sub(r"[^0-9a-z.-]", "-", socket.gethostname().lower())[:253].strip(".-")
    return name or "localhost"


def _node_ip() -> object:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address: str = sock.getsockname()[0]
            return address
    except OSError:
        return "127.0.0.1"


def _seed() -> object:
    return random.SystemRandom().randrange(2048)


def _boot_settings() -> object:
    return SKIP


BUILTINS: dict[tuple[str, ...], Callable[[], object]] = {
    ("netdog", "generate-hostname"): _hostname,
    ("netdog", "node-ip"): _node_ip,
    ("bork", "seed"): _seed,
    ("prairiedog", "generate-boot-settings"): _boot_settings,
}


def find_builtin(argv: Sequence[str], path: str | None) -> Callable[[], object] | None:
    """The built-in for `argv` when its program cannot be found on `path` (a PATH value)."""
    program = argv[0]
    builtin = BUILTINS.get((os.path.basename(program), *argv[1:]))
    if builtin is None:
        return None
    if "/" in program:
        return None if os.access(program, os.X_OK) else builtin
    import shutil

    return None if shutil.which(program, path=path) else builtin
