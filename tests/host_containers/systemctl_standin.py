"""A stand-in for ``systemctl``, for host-containers' tests on machines without systemd.

Run as ``python systemctl_standin.py VERB ARGS...`` (``HOST_CONTAINERS_SYSTEMCTL``). Every call
is appended to ``$STANDIN_LOG`` as one JSON list. ``is-active UNIT`` exits 0 when UNIT is in
``$STANDIN_ACTIVE`` (space-separated) or is a unit it supervises that runs, else 3 (as
systemctl does); a verb in ``$STANDIN_FAIL`` exits 1 with a message on stderr; every other
verb exits 0.

With ``$STANDIN_STATE`` (a directory) it also runs ``host-containers@NAME.service`` as the unit
does: ``start`` and ``enable --now`` start ``$STANDIN_HOST_CTR run --container-id NAME
--source $CTR_SOURCE --superpowered $CTR_SUPERPOWERED`` from ``$THAR_ROOT/etc/host-containers/NAME.env``
in a session of its own (its pid in ``STATE/NAME.pid``, its output in ``STATE/NAME.log``);
``stop`` and ``disable --now`` send it SIGTERM and wait for it to exit.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

UNIT_PREFIX, UNIT_SUFFIX = "host-containers@", ".service"


def _instance(unit: str) -> str | None:
    if unit.startswith(UNIT_PREFIX) and unit.endswith(UNIT_SUFFIX):
        return unit[len(UNIT_PREFIX) : -len(UNIT_SUFFIX)]
    return None


def _pid(state: Path, name: str) -> int | None:
    try:
        pid = int((state / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    # a zombie (its parent, an earlier stand-in, is gone and nobody reaped it yet) has exited
    try:
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return None
    except (OSError, IndexError):
        return None
    return pid


def _env_file(name: str) -> dict[str, str]:
    root = Path(os.environ.get("THAR_ROOT") or "/")
    values = {}
    for line in (root / "etc/host-containers" / f"{name}.env").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
    return values


def _start(state: Path, name: str) -> None:
    if _pid(state, name) is not None:
        return
    env = _env_file(name)
    argv = [*shlex.split(os.environ["STANDIN_HOST_CTR"]), "run", "--container-id", name]
    argv += ["--source", env["CTR_SOURCE"], "--superpowered", env["CTR_SUPERPOWERED"]]
    with (state / f"{name}.log").open("ab") as log:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    (state / f"{name}.pid").write_text(str(child.pid))


def _stop(state: Path, name: str) -> None:
    pid = _pid(state, name)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while _pid(state, name) is not None:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(argv) + "\n")
    verb, units = argv[0], [a for a in argv[1:] if not a.startswith("-")]
    if verb in os.environ.get("STANDIN_FAIL", "").split():
        print(f"Failed to {verb} {' '.join(units)}: the stand-in was told to fail", file=sys.stderr)
        return 1
    state = Path(os.environ["STANDIN_STATE"]) if os.environ.get("STANDIN_STATE") else None
    if verb == "is-active":
        unit = units[0]
        name = _instance(unit)
        running = state is not None and name is not None and _pid(state, name) is not None
        active = running or unit in os.environ.get("STANDIN_ACTIVE", "").split()
        print("active" if active else "inactive")
        return 0 if active else 3
    if state is None:
        return 0
    now = "--now" in argv
    for unit in units:
        name = _instance(unit)
        if name is None:
            continue
        if verb == "start" or (verb == "enable" and now):
            _start(state, name)
        elif verb == "stop" or (verb == "disable" and now):
            _stop(state, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
