"""``thar-boot``: boot a whole thar host in a sandbox directory, unprivileged, then serve its API.

    thar-boot --root DIR [--variant NAME|DIR] [--user-data FILE] [--no-serve]

The sandbox directory mirrors a host: every program runs with ``THAR_ROOT=DIR`` and so uses
Bottlerocket's paths below it. ``DIR/usr/lib/os-release`` (the variant's, written on the first
boot), ``DIR/var/lib/bottlerocket/datastore`` (the datastore), ``DIR/var/lib/bottlerocket/
user-data.toml`` (the user data), ``DIR/usr/share/templates/`` (the variant's templates,
installed at every boot), ``DIR/run/api.sock`` (the API) and the rendered configuration files
under ``DIR/etc/`` (``DIR/etc/motd``, ``DIR/etc/chrony.conf``, ...). The sandbox variant's
restart commands only record, in ``DIR/run/thar/restarts.log``, what a real host would restart:
they run ``thar-record-restart``, which every boot installs as a shell script in
``DIR/usr/bin/``, first on the ``PATH`` of the steps and of the apiserver's applier (it starts
in a few milliseconds, where the Python console script of the same name needs a Python start-up
for each of the services an ``--all`` restarts one after the other).

The boot runs the steps of thar's systemd units (``units/``) in their order, each one a
process (the console scripts next to this Python's executable, else on ``PATH``, which is also
where the steps find each other's programs):

1. prepare: the sandbox's directories, os-release, templates, ``thar-record-restart``, and
   ``--user-data FILE`` copied to the sandbox's user-data path (first boot only);
2. ``storewolf``: creates the datastore, stages the variant's defaults in ``bottlerocket-launch``;
3. ``apiserver``: in the background, on a socket that thar-boot binds and passes to it as
   ``apiserver.socket`` does (socket activation), so the next steps can connect while it is
   still starting; it reports ready as ``Type=notify`` asks (``READY=1``). Its process is
   started with storewolf and held before its ``main()`` until storewolf is done, so its
   imports overlap storewolf's work while the datastore is opened only once seeded;
4. ``early-boot-config``: user data into ``bottlerocket-launch``; skipped once its marker
   ``DIR/var/lib/bottlerocket/early-boot-config.ran`` exists, so user data is applied at the
   first boot only. It too is started with storewolf: it reads and checks the user data
   meanwhile, and its requests wait in the socket's queue until the apiserver serves;
5. ``settings-committer`` then ``sundog`` (the sundog unit): the launch settings become live,
   then the setting generators fill what is still unset;
6. ``settings-committer`` then ``thar-be-settings --all`` (the settings-applier unit): the
   generated settings become live, then every configuration file is rendered.

Each later step's process is also started ahead (one step ahead; ``thar-be-settings``, whose
imports are the heaviest, two) and held before its ``main()`` until its turn, so that its Python
start-up and imports overlap the steps before it: while held, it also imports the modules it
would import only once running (the applier's render pipeline, the settings model for a
variant whose templates validate with it, sundog's schnauzer). The timeline counts a step from
its release. The migrator is not run: a sandbox always runs the thar that boots it.

A variant whose restart commands would act on the machine (``thar-k8s``'s ``/bin/systemctl
try-restart ...``; the sandbox variant ``thar-dev`` only records them with
``thar-record-restart``) is applied with ``--no-restart``, at boot and by the apiserver's
applier: its files are rendered, nothing is restarted.

A timeline of each step's duration is printed at the end of the boot (and written to
``DIR/run/thar/boot-timeline.json``); the steps' output goes to ``DIR/run/thar/boot.log`` and
the apiserver's to ``DIR/run/thar/apiserver.log``. Then thar-boot serves in the foreground
until SIGINT or SIGTERM, which it forwards to the apiserver; ``--no-serve`` stops the apiserver
and exits once the boot is done. A step that fails stops the boot: its name and its stderr are
printed and thar-boot exits 1. Usage errors exit 2.

Booting the same sandbox again is a host's next boot: storewolf keeps the live settings
(including every change made through the API), early-boot-config does not run again, sundog
skips the settings already set, and the configuration files are rendered afresh.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import functools
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

__all__ = [
    "BOOT_STEPS",
    "BootError",
    "Sandbox",
    "SandboxError",
    "SandboxRefused",
    "Step",
    "StepFailed",
    "StepResult",
    "boot",
    "main",
]

DEFAULT_VARIANT = "thar-dev"
# The sandbox's restart command for a reboot: records it instead of rebooting the machine.
REBOOT_COMMAND = "thar-record-restart reboot"
SOCKET_PATH_MAX = 107  # bytes in sockaddr_un.sun_path, less the terminating NUL
APISERVER_STOP_TIMEOUT = 30.0
APISERVER_READY_TIMEOUT = 60.0


# -- errors -----------------------------------------------------------------------------------------


class BootError(Exception):
    """The sandbox boot cannot go on; the message says what failed and what to do."""


class SandboxError(BootError):
    """The sandbox directory cannot be used (locked, socket path, files)."""


class SandboxRefused(SandboxError):
    """The command line asks for what cannot be booted: an unknown variant, another variant
    than the sandbox's, or the machine's own root (exit status 2)."""


class StepFailed(BootError):
    """A boot step exited non-zero; the message names it and carries its stderr."""

    def __init__(self, step: Step, code: int, stderr: str, stdout: str) -> None:
        self.step = step
        self.code = code
        self.stderr = stderr
        shown = stderr.strip() or stdout.strip() or "(no output)"
        status = f"exit status {code}" if code >= 0 else f"signal {-code}"
        super().__init__(
            f"step '{step.name}' ({step.unit}) failed with {status}:\n"
            + "\n".join(f"    {line}" for line in shown.splitlines())
        )


class ApiserverFailed(BootError):
    """The apiserver exited while the boot needed it."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived during the boot."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# -- the sandbox ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    """A sandbox root and the variant it boots; every path a host has, below the root."""

    root: Path
    variant: str  # what storewolf and the apiserver are given: a thar variant's name or a directory
    variant_dir: Path
    variant_id: str
    # The variant's restart commands that would act on this machine (anything but the sandbox's
    # thar-record-restart): when there are any, the sandbox renders files but restarts nothing.
    host_restarts: tuple[str, ...] = ()

    @property
    def os_release(self) -> Path:
        return self.root / "usr/lib/os-release"

    @property
    def datastore_base(self) -> Path:
        return self.root / "var/lib/bottlerocket/datastore"

    @property
    def datastore(self) -> Path:
        return self.datastore_base / "current"

    @property
    def socket(self) -> Path:
        return self.root / "run/api.sock"

    @property
    def user_data(self) -> Path:
        return self.root / "var/lib/bottlerocket/user-data.toml"

    @property
    def marker(self) -> Path:
        """early-boot-config's first-boot marker."""
        return self.root / "var/lib/bottlerocket/early-boot-config.ran"

    @property
    def templates(self) -> Path:
        return self.root / "usr/share/templates"

    @property
    def usr_bin(self) -> Path:
        """The sandbox's own programs (``thar-record-restart``), first on every step's PATH."""
        return self.root / "usr/bin"

    @property
    def run_dir(self) -> Path:
        """thar-boot's own files: the lock, logs, the timeline, the apiserver's pid."""
        return self.root / "run/thar"

    @property
    def boot_log(self) -> Path:
        return self.run_dir / "boot.log"

    @property
    def apiserver_log(self) -> Path:
        return self.run_dir / "apiserver.log"

    @property
    def timeline(self) -> Path:
        return self.run_dir / "boot-timeline.json"


def read_variant_id(os_release: Path) -> str | None:
    """``VARIANT_ID`` of an os-release file; None when the file or the field is missing."""
    try:
        text = os_release.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SandboxError(f"Cannot read {os_release}: {exc.strerror or exc}") from exc
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == "VARIANT_ID":
            return value.strip().strip('"').strip("'")
    return None


def host_restart_commands(variant_dir: Path) -> tuple[str, ...]:
    """The restart commands of a variant's services, as its merged defaults give them, that are
    not ``thar-record-restart``: a sandbox must not run them."""
    services: dict[str, list[str]] = {}
    for path in sorted((variant_dir / "defaults.d").glob("*.toml")):
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SandboxError(f"Cannot read the variant's defaults {path}: {exc}") from exc
        for name, service in (table.get("services") or {}).items():
            if isinstance(service, dict) and isinstance(service.get("restart-commands"), list):
                services[name] = [str(c) for c in service["restart-commands"]]  # arrays replace: later files win
    return tuple(c for commands in services.values() for c in commands if c.split(" ")[0] != "thar-record-restart")


def open_sandbox(root: Path, requested: str | None) -> Sandbox:
    """The sandbox at ``root`` booting ``requested`` (a thar variant's name or a variant
    directory); without it, the variant the sandbox was first booted with, else thar-dev.
    A sandbox keeps its variant: booting another one is an error."""
    from thar import variants

    root = root.resolve()
    if root == Path("/"):
        raise SandboxRefused(
            "thar-boot boots a sandbox and would write over this machine's /etc with --root /: "
            "on a real host, install the systemd units instead (units/install.sh)"
        )
    if root.exists() and not root.is_dir():
        raise SandboxError(f"--root {root} exists and is not a directory")
    existing = read_variant_id(root / "usr/lib/os-release")
    name = requested or existing or DEFAULT_VARIANT
    if name in variants.names():
        variant_dir = variants.path(name)
    elif Path(name).is_dir():
        variant_dir = Path(name).resolve()
        name = str(variant_dir)
    else:
        raise SandboxRefused(
            f"Unknown variant '{name}': give one of thar's variants ({', '.join(variants.names())}) "
            "or a variant directory"
        )
    variant_id = read_variant_id(variant_dir / "os-release")
    if variant_id is None:
        raise SandboxRefused(f"Variant directory {variant_dir} has no os-release with a VARIANT_ID")
    if existing is not None and existing != variant_id:
        raise SandboxRefused(
            f"The sandbox {root} was booted as '{existing}' (VARIANT_ID in {root / 'usr/lib/os-release'}); "
            f"it cannot boot '{variant_id}'. Boot it without --variant, or use another --root"
        )
    return Sandbox(root, name, variant_dir, variant_id, host_restart_commands(variant_dir))


# -- the steps --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One boot step: a thar program as one of the systemd units runs it."""

    name: str  # as the timeline shows it
    unit: str  # the unit of units/ that runs it on a host
    program: str  # the console script
    entry: str  # its "module:function", to check it is installed and to run it without the script
    args: Callable[[Sandbox], list[str]]
    # A reason to skip the step (the unit's Condition...=), or None to run it.
    skip: Callable[[Sandbox], str | None] = field(default=lambda _sandbox: None)
    note: Callable[[Sandbox], str] = field(default=lambda _sandbox: "")  # for the timeline
    pre: bool = False  # an ExecStartPre= of its unit
    service: bool = False  # a long-running service started in the background (the apiserver)
    # Started as soon as the apiserver's socket exists (with storewolf), waited for at its turn:
    # for a program whose every effect goes through the API, which answers only once the
    # apiserver runs, that is, after storewolf. Its own start-up overlaps storewolf's work.
    early: bool = False
    # Started ahead and held before its main() until its turn (a Python program), when the
    # step ``ahead`` places before it starts.
    prestart: bool = True
    ahead: int = 1
    # Modules a held process imports while it waits: those the program imports only once it
    # runs (its render pipeline, say), so that their import too overlaps the steps before.
    preload: Callable[[Sandbox], tuple[str, ...]] = field(default=lambda _sandbox: ())

    @property
    def module(self) -> str:
        return self.entry.partition(":")[0]


def _storewolf_args(sb: Sandbox) -> list[str]:
    return ["--data-store-base-path", str(sb.datastore_base), "--variant", sb.variant]


def _apiserver_args(sb: Sandbox) -> list[str]:
    # The applier is found on PATH (thar-boot puts its own bin directory first) and finds the
    # socket through THAR_ROOT. Without thar-be-settings installed, changes are only committed.
    applier = "thar-be-settings" if installed("thar.thar_be_settings.cli") else "none"
    if applier != "none" and sb.host_restarts:
        applier += " --no-restart"
    return [
        "--datastore-path", str(sb.datastore), "--socket-path", str(sb.socket), "--variant", sb.variant,
        "--os-release", str(sb.os_release), "--applier", applier, "--reboot-command", REBOOT_COMMAND,
    ]  # fmt: skip


def _socket_args(sb: Sandbox) -> list[str]:
    return ["--socket-path", str(sb.socket)]


def _applier_args(sb: Sandbox) -> list[str]:
    return ["--all", *(["--no-restart"] if sb.host_restarts else []), *_socket_args(sb)]


def _applier_note(sb: Sandbox) -> str:
    if not sb.host_restarts:
        return ""
    return f"restarts not run: the variant's are a real host's ('{sb.host_restarts[0]}', ...)"


# What thar-be-settings imports only once it runs: the applier and schnauzer's render pipeline.
_APPLIER_MODULES = (
    "thar.thar_be_settings.applier", "thar.thar_be_settings.plan", "thar.thar_be_settings.restart",
    "thar.thar_be_settings.sandbox", "thar.schnauzer.errors", "thar.schnauzer.helpers", "thar.schnauzer.importer",
    "thar.schnauzer.render", "thar.schnauzer.template",
    "subprocess",
)  # fmt: skip
# The settings model that schnauzer's model-validating helpers load on their first call.
_MODEL_HELPERS = {"oci_defaults": "thar.models.settings.oci_defaults"}


@functools.cache
def _model_modules(templates: Path) -> tuple[str, ...]:
    """The settings-model modules that the templates in ``templates`` may load."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        for template in sorted(templates.iterdir()):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                text = template.read_text(encoding="utf-8")
                found += [m for helper, m in _MODEL_HELPERS.items() if helper in text and m not in found]
    return tuple(found)


def _applier_preload(sb: Sandbox) -> tuple[str, ...]:
    """The applier's modules, and the settings model when a template of the variant uses a
    helper that validates with it."""
    return (*_APPLIER_MODULES, *_model_modules(sb.variant_dir / "templates"))


def _sundog_preload(_sb: Sandbox) -> tuple[str, ...]:
    """sundog renders its schnauzer-v2 generators in process, importing schnauzer's CLI then."""
    return (
        "thar.schnauzer.cli",
        "thar.schnauzer.errors",
        "thar.schnauzer.v1",
        "thar.schnauzer.importer",
        "thar.sundog.runner",
    )


def _first_boot_only(sb: Sandbox) -> str | None:
    if sb.marker.exists():
        return f"not the first boot ({sb.marker.relative_to(sb.root)} exists)"
    return None


# The boot order of the units (migrator -> storewolf -> apiserver -> early-boot-config -> sundog
# -> settings-applier). The migrator is left out: a sandbox is always booted at the version of
# the thar it runs, so there is nothing to migrate.
BOOT_STEPS: tuple[Step, ...] = (
    Step("storewolf", "storewolf.service", "storewolf", "thar.storewolf.cli:main", _storewolf_args),
    Step("apiserver", "apiserver.service", "apiserver", "thar.apiserver.__main__:main", _apiserver_args, service=True),
    Step("early-boot-config", "early-boot-config.service", "early-boot-config", "thar.early_boot_config.cli:main",
         _socket_args, skip=_first_boot_only, early=True),
    Step("settings-committer", "sundog.service", "settings-committer", "thar.apiclient.committer:main",
         _socket_args, pre=True),
    Step("sundog", "sundog.service", "sundog", "thar.sundog.cli:main", _socket_args, preload=_sundog_preload),
    Step("settings-committer", "settings-applier.service", "settings-committer", "thar.apiclient.committer:main",
         _socket_args, pre=True),
    Step("thar-be-settings --all", "settings-applier.service", "thar-be-settings", "thar.thar_be_settings.cli:main",
         _applier_args, note=_applier_note, preload=_applier_preload, ahead=2),
)  # fmt: skip


def installed(module: str) -> bool:
    """Whether ``module`` is there to import, found without importing anything: importing a
    package runs its ``__init__``, and the apiserver's alone costs a quarter of a second."""
    top, _, rest = module.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if not rest:
        return True
    for location in spec.submodule_search_locations or ():
        path = Path(location, *rest.split("."))
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return True
    return False


def bin_dir() -> Path:
    """Where thar's console scripts are: beside this Python's executable."""
    return Path(sys.executable).parent


def command(step: Step) -> list[str]:
    """The step's program: its console script, else one on PATH, else this Python running its entry."""
    script = bin_dir() / step.program
    if os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which(step.program)
    if found:
        return [found]
    module, _, function = step.entry.partition(":")
    return [sys.executable, "-c", f"import sys; from {module} import {function}; sys.exit({function}())"]


# -- results and the timeline -----------------------------------------------------------------------


@dataclass
class StepResult:
    """What one step did: ``ok``, ``skipped``, ``missing`` (not installed) or ``failed``."""

    name: str
    unit: str
    status: str
    start: float  # seconds since the boot started
    seconds: float
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "unit": self.unit, "status": self.status, "start": round(self.start, 6),
                "seconds": round(self.seconds, 6), "note": self.note}  # fmt: skip


def format_timeline(sandbox: Sandbox, first_boot: bool, results: Sequence[StepResult], total: float) -> str:
    """The table printed at the end of the boot."""
    kind = "first boot" if first_boot else "boot"
    lines = [f"thar-boot: {sandbox.variant_id} {kind} of {sandbox.root}", ""]
    header = f"  {'step':<24} {'unit':<26} {'start':>8} {'took':>8}  note"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for r in results:
        took = f"{r.seconds * 1000:.0f} ms" if r.status in ("ok", "failed") else "-"
        note = r.note if r.status == "ok" else f"{r.status.upper()}: {r.note}" if r.note else r.status.upper()
        lines.append(f"  {r.name:<24} {r.unit:<26} {r.start * 1000:>5.0f} ms {took:>8}  {note}".rstrip())
    lines.append(f"  {'total':<24} {'':<26} {'':>8} {total * 1000:>5.0f} ms")
    return "\n".join(lines)


# -- the apiserver in the background ----------------------------------------------------------------


class ReadyWatch:
    """Receives the apiserver's ``READY=1`` (sd_notify) on an abstract datagram socket and notes
    when it came. ``start()`` the watching thread only after the apiserver is forked."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"thar-boot/{os.getpid()}/{os.urandom(6).hex()}"
        self.sock.bind("\0" + name)
        self.sock.settimeout(0.2)
        self.address = "@" + name
        self.ready_at: float | None = None
        self.event = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="thar-boot-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if b"READY=1" in data.split(b"\n"):
                self.ready_at = time.perf_counter()
                self.event.set()
                return

    def close(self) -> None:
        self._stop = True
        if self._thread.is_alive():
            self._thread.join()
        self.sock.close()


def api_socket_alive(path: Path) -> bool:
    """Whether something accepts connections on ``path``; a stale socket file is removed."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOTSOCK):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return False
        raise SandboxError(f"Cannot check the API socket {path}: {exc.strerror or exc}") from exc
    finally:
        probe.close()
    return True


def bind_api_socket(sandbox: Sandbox) -> socket.socket:
    """Listen on ``DIR/run/api.sock`` for the apiserver, as ``apiserver.socket`` does on a host."""
    path = sandbox.socket
    if len(os.fsencode(path)) > SOCKET_PATH_MAX:
        raise SandboxError(
            f"The API socket path {path} is {len(os.fsencode(path))} bytes long, more than the "
            f"{SOCKET_PATH_MAX} a Unix socket allows: use a shorter --root"
        )
    if api_socket_alive(path):
        pid_file = sandbox.run_dir / "apiserver.pid"
        pid = pid_file.read_text().strip() if pid_file.exists() else "unknown"
        raise SandboxError(f"An apiserver (pid {pid}) is still serving {path}: stop it before booting this sandbox")
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o660)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise SandboxError(f"Cannot listen on the API socket {path}: {exc.strerror or exc}") from exc
    return sock


# The apiserver's program when it is started early and held: its imports (aiohttp, the model),
# most of its start-up, run while storewolf seeds the datastore; its main() waits for "go" on
# stdin, so the datastore is opened only once storewolf is done. End of input: exit unstarted.
# Any held step first imports the modules of its preload list that it gets to before "go": a
# release is never delayed by a preload the run may not need.
_HELD = (
    "import os, sys\n"
    "from {module} import {function} as main\n"
    "def preload():\n"
    "    import importlib, select\n"
    "    for name in {preload!r}:\n"
    "        if select.select([0], [], [], 0)[0]:\n"
    "            return  # released (or stopped): the program imports what it needs itself\n"
    "        try:\n"
    "            importlib.import_module(name)\n"
    "        except Exception:\n"
    "            pass  # the program imports it again when it needs it, and reports what fails\n"
    "preload()\n"
    "del preload\n"
    "go = os.read(0, 1)\n"
    "os.close(0)\n"
    "os.open(os.devnull, os.O_RDONLY)\n"
    "sys.argv[0] = {program!r}\n"
    "sys.exit(main() if go == b'1' else 0)\n"
)


def reserve_fd3() -> None:
    """Keep fd 3 of this process open (on /dev/null if nothing holds it): the socket is handed
    over as fd 3 in the child, which must not be one of the pipes subprocess makes for itself."""
    try:
        os.fstat(3)
    except OSError:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if fd != 3:
            os.dup2(fd, 3, inheritable=False)
            os.close(fd)


def held_command(step: Step, preload: Sequence[str] = ()) -> list[str]:
    """The step's program, started now and held before its main() until released; while held,
    it imports ``preload`` too, one module after the other until it is released (a module that
    fails to import, or is not reached, is left to the program)."""
    module, _, function = step.entry.partition(":")
    code = _HELD.format(module=module, function=function, program=step.program, preload=tuple(preload))
    return [sys.executable, "-c", code]


class Apiserver:
    """The apiserver process of the boot, socket-activated and watched for READY=1.

    ``held=True`` starts it early, held before its ``main()`` until ``release()``."""

    def __init__(self, sandbox: Sandbox, step: Step, env: dict[str, str], held: bool = False) -> None:
        self.sandbox = sandbox
        self.watch = ReadyWatch()
        listener = bind_api_socket(sandbox)
        environment = dict(env, NOTIFY_SOCKET=self.watch.address, LISTEN_FDS="1", LISTEN_FDNAMES="api.sock")

        def activate() -> None:
            # In the child, before exec: systemd's socket-activation protocol, the listening
            # socket as fd 3 and LISTEN_PID = the pid only the child knows.
            if listener.fileno() == 3:
                os.set_inheritable(3, True)
            else:
                os.dup2(listener.fileno(), 3)
            os.environ.clear()
            os.environ.update(environment, LISTEN_PID=str(os.getpid()))

        reserve_fd3()

        program = held_command(step, step.preload(sandbox)) if held else command(step)
        try:
            self.log = sandbox.apiserver_log.open("ab")
            self.started = time.perf_counter()
            # env=None: the child's environment is the one activate() leaves. Every other fd
            # of thar-boot is close-on-exec; fd 3 is not, which is what close_fds=False keeps.
            self.proc = subprocess.Popen(
                [*program, *step.args(sandbox)],
                stdin=subprocess.PIPE if held else subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                close_fds=False,
                preexec_fn=activate,  # safe: no thread runs yet (the watch starts below)
                start_new_session=True,  # a terminal's Ctrl-C reaches thar-boot, which forwards it once
            )
        finally:
            # Only the apiserver holds the socket now: if it dies, clients fail instead of waiting.
            listener.close()
        self.released = self.started
        self.watch.start()
        (sandbox.run_dir / "apiserver.pid").write_text(f"{self.proc.pid}\n")

    def release(self) -> None:
        """Let a held apiserver go on to its main()."""
        self.released = time.perf_counter()
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write(b"1")
            self.proc.stdin.close()
            self.proc.stdin = None

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise ApiserverFailed(f"The apiserver exited with status {code}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.sandbox.apiserver_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "    (no log)"
        tail = text.splitlines()[-lines:]
        return "\n".join(f"    {line}" for line in tail) or "    (no output)"

    def wait_ready(self) -> float:
        """Seconds from the start to READY=1; raises ApiserverFailed if it exits first."""
        deadline = time.monotonic() + APISERVER_READY_TIMEOUT
        while not self.watch.event.wait(0.05):
            self.check_alive()
            if time.monotonic() > deadline:
                raise ApiserverFailed(
                    f"The apiserver did not report ready in {APISERVER_READY_TIMEOUT:.0f} s:\n{self.log_tail()}"
                )
        assert self.watch.ready_at is not None
        return self.watch.ready_at - self.started

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def stop(self) -> int:
        """SIGTERM, then wait (SIGKILL after a grace period); the exit status."""
        if self.proc.stdin is not None:  # held and never released: it exits at the end of its input
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            self.proc.stdin = None
        self.signal(signal.SIGTERM)
        try:
            code = self.proc.wait(APISERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.close()
        return code

    def close(self) -> None:
        self.watch.close()
        self.log.close()
        with contextlib.suppress(FileNotFoundError):
            (self.sandbox.run_dir / "apiserver.pid").unlink()


# -- the boot ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def locked(sandbox: Sandbox) -> Iterator[None]:
    """One thar-boot per sandbox at a time."""
    sandbox.run_dir.mkdir(parents=True, exist_ok=True)
    with (sandbox.run_dir / "boot.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SandboxError(f"Another thar-boot is using {sandbox.root}: stop it first") from None
        yield


def prepare(sandbox: Sandbox, user_data: Path | None) -> str:
    """Make the sandbox a host: directories, os-release, templates, user data. Returns a note."""
    notes = []
    try:
        for directory in ("usr/lib", "run/thar", "etc", "var/lib/bottlerocket"):
            (sandbox.root / directory).mkdir(parents=True, exist_ok=True)
        if not sandbox.os_release.exists():
            shutil.copyfile(sandbox.variant_dir / "os-release", sandbox.os_release)
            notes.append("os-release")
        if installed("thar.thar_be_settings.sandbox"):
            from thar.thar_be_settings.sandbox import install_restart_recorder, install_templates

            count = len(install_templates(sandbox.variant_dir, sandbox.root))
            notes.append(f"{count} templates")
            install_restart_recorder(sandbox.root)
        else:
            notes.append("templates NOT installed (thar_be_settings.sandbox missing)")
        if user_data is not None:
            if sandbox.marker.exists():
                notes.append(f"user data {user_data} NOT used: user data is read at the first boot only")
            else:
                shutil.copyfile(user_data, sandbox.user_data)
                notes.append(f"user data from {user_data}")
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise SandboxError(f"Cannot prepare the sandbox {sandbox.root}: {exc.strerror or exc}{where}") from exc
    return ", ".join(notes)


def child_env(sandbox: Sandbox) -> dict[str, str]:
    """The environment of every step: THAR_ROOT, and on PATH first the sandbox's own programs
    (``DIR/usr/bin``: the shell form of ``thar-record-restart``), then thar's."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS")}
    env["THAR_ROOT"] = str(sandbox.root)
    env["PATH"] = os.pathsep.join([str(sandbox.usr_bin), str(bin_dir()), env.get("PATH", os.defpath)])
    return env


@dataclass
class Running:
    """A step's process, its output going to temporary files. A held one (prestarted) waits
    before its main() until ``release()``."""

    step: Step
    proc: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]
    started: float
    held: bool

    @classmethod
    def spawn(
        cls, step: Step, sandbox: Sandbox, env: dict[str, str], log: Callable[[str], None], held: bool = False
    ) -> Running:
        argv = [*command(step), *step.args(sandbox)]
        log(f"==> {step.name} ({step.unit}): {' '.join(argv)}{' (prestarted)' if held else ''}\n")
        if held:
            argv = [*held_command(step, step.preload(sandbox)), *step.args(sandbox)]
        # Files, not pipes: a step started ahead runs unread until its turn. Closed in finish()/kill().
        stdout = tempfile.TemporaryFile()  # noqa: SIM115
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        started = time.perf_counter()
        stdin = subprocess.PIPE if held else subprocess.DEVNULL
        proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout, stderr=stderr)
        return cls(step, proc, stdout, stderr, started, held)

    def release(self) -> None:
        """Let a held step go on to its main(); from now on it counts as started."""
        self.started = time.perf_counter()
        self._close_stdin(b"1")

    def _close_stdin(self, data: bytes = b"") -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                if data:
                    self.proc.stdin.write(data)
                self.proc.stdin.close()
            self.proc.stdin = None

    def finish(self, log: Callable[[str], None]) -> tuple[int, str, str]:
        """Wait for the process; its exit status, stdout and stderr (also logged)."""
        try:
            code = self.proc.wait()
        except BaseException:
            self.kill()
            raise
        out = self._read(self.stdout)
        err = self._read(self.stderr)
        log(out + err + f"<== {self.step.name}: exit status {code}\n")
        return code, out, err

    @staticmethod
    def _read(file: IO[bytes]) -> str:
        file.seek(0)
        text = file.read().decode("utf-8", errors="replace")
        file.close()
        return text

    def kill(self) -> None:
        """Stop it: a held one exits at the end of its input, a running one is killed."""
        self._close_stdin()
        if self.held and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stdout.close()
        self.stderr.close()


@dataclass
class Boot:
    """A boot of a sandbox: runs the steps, keeps the timeline, owns the apiserver."""

    sandbox: Sandbox
    steps: Sequence[Step] = BOOT_STEPS
    results: list[StepResult] = field(default_factory=list)
    apiserver: Apiserver | None = None
    first_boot: bool = False
    t0: float = 0.0
    total: float = 0.0
    apiserver_start: float = 0.0
    # Steps started ahead of their turn, by index in steps: early ones run, held ones wait.
    early: dict[int, Running] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def run(self, user_data: Path | None) -> None:
        sandbox = self.sandbox
        self.t0 = time.perf_counter()
        self.first_boot = not sandbox.datastore.exists()
        note = prepare(sandbox, user_data)
        self.results.append(StepResult("prepare", "-", "ok", 0.0, time.perf_counter() - self.t0, note))
        self.env = child_env(sandbox)
        with sandbox.boot_log.open("a", encoding="utf-8") as log_file:
            log_file.write(f"=== thar-boot {time.strftime('%Y-%m-%dT%H:%M:%S')} {sandbox.variant_id}\n")

            def log(text: str) -> None:
                log_file.write(text)
                log_file.flush()

            service = next((s for s in self.steps if s.service and installed(s.module)), None)
            if service is not None and self.steps.index(service) > 0:
                self.apiserver_start = self.start_apiserver(service, held=True).started - self.t0
                for i, step in enumerate(self.steps):
                    if step.early and installed(step.module) and step.skip(sandbox) is None:
                        self.spawn(i, step, log)
            for i, step in enumerate(self.steps):
                self.run_one(i, step, log)
        if self.apiserver is not None:
            self.apiserver.wait_ready()
        self.total = time.perf_counter() - self.t0
        self.note_apiserver()

    def note_apiserver(self) -> None:
        """The apiserver's row: from its start to READY=1, or why it has none."""
        apiserver = self.apiserver
        for r in self.results:
            if apiserver is None or r.name != "apiserver" or r.status != "ok":
                continue
            r.start = self.apiserver_start
            if apiserver.watch.ready_at is None:
                r.note = "started; not ready when the boot stopped"
                continue
            r.seconds = apiserver.watch.ready_at - apiserver.started
            after = apiserver.watch.ready_at - apiserver.released
            r.note = f"to READY=1; held until storewolf was done, then ready in {after * 1000:.0f} ms"

    def prestart(self, index: int, log: Callable[[str], None]) -> None:
        """Start the steps after ``index`` that are due (``Step.ahead``) ahead of their turn,
        held: their Python start-up and imports overlap the current step."""
        for following in range(index + 1, len(self.steps)):
            step = self.steps[following]
            if following in self.early or following - index > step.ahead:
                continue
            if step.service or not step.prestart or not installed(step.module) or step.skip(self.sandbox) is not None:
                continue
            self.spawn(following, step, log, held=True)

    def spawn(self, index: int, step: Step, log: Callable[[str], None], held: bool = False) -> Running:
        """Start ``step``'s process and record it in ``early``, where an interrupted boot's
        clean-up finds it; the two in one piece (see ``_Deferral``)."""
        with _DEFERRAL.deferred():
            running = self.early[index] = Running.spawn(step, self.sandbox, self.env, log, held=held)
        return running

    def start_apiserver(self, step: Step, held: bool = False) -> Apiserver:
        """Start the apiserver and record it, in one piece (see ``_Deferral``)."""
        with _DEFERRAL.deferred():
            apiserver = self.apiserver = Apiserver(self.sandbox, step, self.env, held=held)
        return apiserver

    def run_one(self, index: int, step: Step, log: Callable[[str], None]) -> None:
        # The later steps due are started (held) once this one runs: not before, which would
        # delay it by their spawning. A step's process stays in ``early`` until it has ended, so
        # that an interrupted boot (``stop_early``) kills whatever is still running.
        start = time.perf_counter() - self.t0
        running = self.early.get(index)  # started ahead: its turn is to be released or waited for
        if running is None or running.held:
            if running is None and not installed(step.module):
                note = f"{step.module} not installed"
                self.results.append(StepResult(step.name, step.unit, "missing", start, 0.0, note))
                self.prestart(index, log)
                return
            reason = step.skip(self.sandbox)
            if reason is not None:
                if running is not None:
                    running.kill()
                    del self.early[index]
                log(f"==> {step.name} ({step.unit}): skipped, {reason}\n")
                self.results.append(StepResult(step.name, step.unit, "skipped", start, 0.0, reason))
                self.prestart(index, log)
                return
            if step.service:
                apiserver = self.apiserver
                if apiserver is None:
                    apiserver = self.start_apiserver(step)
                    self.apiserver_start = start
                apiserver.release()
                self.results.append(StepResult(step.name, step.unit, "ok", start, 0.0))
                self.prestart(index, log)
                return
            if running is None:
                running = self.spawn(index, step, log)
            else:
                running.release()
                start = running.started - self.t0
            note = "ExecStartPre" if step.pre else step.note(self.sandbox)
        else:
            start = running.started - self.t0
            note = "started with storewolf; its API requests waited for the apiserver"
        self.prestart(index, log)
        code, stdout, stderr = running.finish(log)
        del self.early[index]
        took = time.perf_counter() - self.t0 - start
        if code != 0:
            self.results.append(StepResult(step.name, step.unit, "failed", start, took, note))
            if self.apiserver is not None:
                self.apiserver.check_alive()  # a dead apiserver is the cause, not this step
            raise StepFailed(step, code, stderr, stdout)
        self.results.append(StepResult(step.name, step.unit, "ok", start, took, note))

    def stop_early(self) -> None:
        """Kill the steps started early that the boot did not get to."""
        for running in self.early.values():
            running.kill()
        self.early.clear()

    def write_timeline(self) -> None:
        data = {
            "variant": self.sandbox.variant_id,
            "root": str(self.sandbox.root),
            "first_boot": self.first_boot,
            "total": round(self.total, 6),
            "steps": [r.as_json() for r in self.results],
        }
        with contextlib.suppress(OSError):
            self.sandbox.timeline.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    def timeline(self) -> str:
        total = self.total or (time.perf_counter() - self.t0)
        return format_timeline(self.sandbox, self.first_boot, self.results, total)


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


class _Deferral:
    """Sections the boot's interruption must not split: starting a process and recording it where
    the clean-up finds it. A signal arriving inside one interrupts the boot when it ends."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if self.depth == 0 and self.pending is not None:
            signum, self.pending = self.pending, None
            raise Interrupted(signum)


_DEFERRAL = _Deferral()


class _Signals:
    """SIGINT/SIGTERM: during the boot they interrupt it (at once, or at the end of a deferred
    section); while serving they go to the apiserver (as SIGTERM); during the final clean-up they
    are only noted."""

    def __init__(self) -> None:
        self.mode = "interrupt"
        self.forward_to: Apiserver | None = None
        self.received: int | None = None
        self._old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in self._old:
            signal.signal(s, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if self.mode == "forward" and self.forward_to is not None:
            self.forward_to.signal(signal.SIGTERM)
        elif self.mode == "interrupt":
            self.mode = "ignore"
            if _DEFERRAL.depth:
                _DEFERRAL.pending = signum
            else:
                raise Interrupted(signum)

    def forward(self, apiserver: Apiserver) -> None:
        self.forward_to = apiserver
        self.mode = "forward"

    def restore(self) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)


def boot(sandbox: Sandbox, user_data: Path | None = None, serve: bool = True) -> int:
    """Boot the sandbox, print the timeline, then serve (or stop the apiserver). The exit status."""
    signals = _Signals()
    run = Boot(sandbox)
    try:
        with locked(sandbox):
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
        _DEFERRAL.pending = None
        run.stop_early()
        if run.apiserver is not None:
            run.apiserver.stop()
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
    return boot(sandbox, args.user_data, serve=not args.no_serve)


if __name__ == "__main__":
    sys.exit(main())
