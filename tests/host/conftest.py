"""Throwaway systemd hosts for the real-host tests, and the guard that the machine is untouched.

Every host is a :class:`thar.sandbox.host.ThrowawayHost` below a directory of the test's own:
an overlay of this machine's ``/`` with a tmpfs upper layer, prepared by ``thar-install-units``
and booted by ``systemd-nspawn --boot --private-network``. They need root and Debian's
``systemd-container``; without them the tests skip, unless ``THAR_HOST_TESTS=required`` (set
by ``.ci/run``), where a missing piece is a failure.

Their programs are this checkout's (``thar_bindir``, ``checkout_bindir``): the interpreter's
console scripts when they run this checkout, else wrappers that do (a virtualenv installed
before a program was added lacks its script).

The guard (``machine_guard``, for each module of this directory) puts a canary file in the machine's
``/tmp`` and records the machine's own identity files and ``/run/systemd``; after the module's
last test it checks the canary is still there, those files are byte-identical, and no mount of the
tests is left.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import cast

import pytest

from thar.sandbox.host import ThrowawayHost, thar_checkout

REQUIRED = os.environ.get("THAR_HOST_TESTS") == "required"
WATCHED_FILES = [
    "/etc/passwd",
    "/etc/group",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/machine-id",
    "/etc/hostname",
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/chrony/chrony.conf",
]
WATCHED_DIRS = ["/run/systemd", "/etc/systemd/system", "/etc/systemd/system/multi-user.target.wants"]
WATCHED_PATHS = [
    "/run/api.sock",
    "/run/systemd/system",
    "/etc/storewolf",
    "/var/lib/bottlerocket",
    "/usr/share/templates",
]

# chronyd on Debian reads /etc/chrony/chrony.conf and is skipped where the clock cannot be set
# (a container). A host that runs it on thar's /etc/chrony.conf says so in a drop-in: after thar
# rendered it, from that file, never touching the clock (-x).
CHRONY_DROPIN = """\
[Unit]
ConditionCapability=
After=preconfigured.target

[Service]
ExecStart=
ExecStart=!/usr/sbin/chronyd -F 1 -x -u _chrony -f /etc/chrony.conf
"""


def missing_support() -> str | None:
    """Why this machine cannot boot a throwaway host, or None."""
    if os.geteuid() != 0:
        return "the real-host tests need root"
    for tool, package in (("systemd-nspawn", "systemd-container"), ("unshare", "util-linux"), ("groupadd", "passwd")):
        if shutil.which(tool) is None:
            return f"{tool} is missing (Debian's {package})"
    if not Path("/lib/systemd/systemd").exists():
        return "systemd is not installed"
    return None


def require(why: str | None) -> None:
    if why is None:
        return
    if REQUIRED:
        pytest.fail(f"{why} (THAR_HOST_TESTS=required)")
    pytest.skip(why)


def machine_state(base: Path) -> dict[str, object]:
    """What a host must never change on the machine: identity files (hashes), the entries
    of the directories systemd writes at boot, and the hosts' mounts under ``base`` (this run's
    directories: another run's hosts are its own)."""
    state: dict[str, object] = {}
    for name in WATCHED_FILES:
        path = Path(name)
        state[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    for name in WATCHED_DIRS:
        path = Path(name)
        state[name + "/"] = sorted(p.name for p in path.iterdir()) if path.is_dir() else None
    for name in WATCHED_PATHS:
        state[name + "?"] = os.path.lexists(name)
    state["hostname"] = socket.gethostname()
    mounts = (line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())
    state["mounts"] = sorted(m for m in mounts if m.startswith(f"{base}/") and "thar-host" in m)
    return state


@pytest.fixture(scope="module", autouse=True)
def machine_guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The canary in the machine's /tmp and the machine's state, checked after each module."""
    if missing_support() is not None:
        yield Path("/nonexistent")
        return
    canary = Path("/tmp") / f"thar-host-canary-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    canary.write_text(token)
    base = tmp_path_factory.getbasetemp()
    before = machine_state(base)
    yield canary
    try:
        assert canary.is_file() and canary.read_text() == token, f"the canary {canary} is gone: /tmp was emptied"
        after = machine_state(base)
        changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
        assert not changed, f"the machine changed outside the tests' directories: {changed}"
    finally:
        canary.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def host_support() -> None:
    require(missing_support())


@pytest.fixture(scope="session")
def chrony_support(host_support: None) -> None:
    require(None if Path("/usr/sbin/chronyd").exists() else "chrony is not installed (Debian's chrony)")


def chrony_host(host: ThrowawayHost) -> ThrowawayHost:
    """Make ``host`` run Debian's chronyd (enabled) on thar's rendered
    /etc/chrony.conf."""
    host.write("/etc/systemd/system/chrony.service.d/thar-host.conf", CHRONY_DROPIN)
    wants = host.root / "etc/systemd/system/multi-user.target.wants/chrony.service"
    if not wants.is_symlink():
        wants.parent.mkdir(parents=True, exist_ok=True)
        wants.symlink_to("/lib/systemd/system/chrony.service")
    return host


MakeHost = Callable[..., ThrowawayHost]


def _factory(base: Path, bindir: Path) -> tuple[MakeHost, list[ThrowawayHost]]:
    hosts: list[ThrowawayHost] = []

    def make(**options: object) -> ThrowawayHost:
        workdir = base / f"thar-host-{len(hosts)}"
        workdir.mkdir()
        if "bindir" not in options:  # this checkout's programs, wherever the interpreter's are
            extra = cast("Sequence[str]", options.pop("binds", ()))
            options.update(bindir=bindir, binds=[sys.prefix, *extra])
        host = ThrowawayHost(workdir, **options)  # type: ignore[arg-type]
        hosts.append(host)
        host.create()
        return host

    return make, hosts


def _destroy(hosts: list[ThrowawayHost]) -> None:
    errors = []
    for host in reversed(hosts):
        try:
            host.destroy()
        except Exception as exc:
            errors.append(f"{host.name}: {exc}")
    assert not errors, errors


@pytest.fixture(scope="session")
def thar_bindir(host_support: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of the hosts' programs: ``checkout_bindir``."""
    return checkout_bindir(tmp_path_factory.mktemp("thar-bin"))


@pytest.fixture
def make_host(host_support: None, thar_bindir: Path, tmp_path: Path) -> Iterator[MakeHost]:
    """A factory of created (not yet booted) hosts, each destroyed after the test; their
    programs are this checkout's (``thar_bindir``) unless ``bindir=`` says otherwise."""
    make, hosts = _factory(tmp_path, thar_bindir)
    yield make
    _destroy(hosts)


@pytest.fixture(scope="module")
def make_module_host(
    host_support: None, thar_bindir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MakeHost]:
    """The same, for hosts that a whole test module shares."""
    make, hosts = _factory(tmp_path_factory.mktemp("hosts"), thar_bindir)
    yield make
    _destroy(hosts)


def _runs_this_checkout(bindir: Path, scripts: dict[str, str]) -> bool:
    """Whether ``bindir`` has every console script and its python imports this checkout's thar."""
    if not all((bindir / name).exists() for name in [*scripts, "python"]):
        return False
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(
        [str(bindir / "python"), "-c", "import thar; print(thar.__file__)"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode == 0 and Path(done.stdout.strip()).resolve().parent.parent == thar_checkout()


def checkout_bindir(base: Path) -> Path:
    """A bin directory whose programs are this checkout's: the interpreter's own when its console
    scripts are all there and import this checkout (a virtualenv made from it, as ``.ci/run``
    makes); else ``base/bin``, a wrapper per console script of pyproject.toml (and ``python``)
    that runs this interpreter on this checkout. A host booted with it (``bindir=``, the
    interpreter's prefix in ``binds=``) runs the code under test, new programs included."""
    scripts: dict[str, str] = tomllib.loads((thar_checkout() / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ]["scripts"]
    own = Path(sys.executable).parent
    if _runs_this_checkout(own, scripts):
        return own
    bindir = base / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    checkout, python = shlex.quote(str(thar_checkout())), shlex.quote(sys.executable)
    wrappers = {"python": f'PYTHONPATH={checkout} exec {python} "$@"'}
    for name, entry in scripts.items():
        module, _, function = entry.partition(":")
        code = f"import sys; sys.argv[0] = {name!r}; from {module} import {function}; sys.exit({function}())"
        wrappers[name] = f'PYTHONPATH={checkout} exec {python} -c {shlex.quote(code)} "$@"'
    for name, line in wrappers.items():
        path = bindir / name
        path.write_text(f"#!/bin/sh\n{line}\n", encoding="utf-8")
        path.chmod(0o755)
    return bindir
