"""thar-boot as the systemd of a sandbox's host containers: ``host-containerd.service`` and
``host-containers@NAME.service`` (``units/``), driven by host-containers through a systemctl
stand-in.

``Supervisor`` listens on ``DIR/run/thar/systemctl.sock``; ``DIR/run/thar/systemctl`` (written
by ``host_containers.install_programs``) hands it its arguments and prints its answer. The verbs
are those host-containers uses (``host_containers/manage.py``): ``enable``, ``disable`` (with
``--now``: and start, or stop), ``start``, ``stop``, ``restart`` (``--no-block``: without
waiting) and ``is-active``, on

- ``host-containers@NAME.service``: like its unit, ``host-ctr run --container-id=NAME
  --source=${CTR_SOURCE} --superpowered=${CTR_SUPERPOWERED} --registry-config=DIR/etc/host-containers/host-ctr.toml``
  with the environment files ``DIR/etc/network/proxy.env`` and ``DIR/etc/host-containers/NAME.env``
  (a missing one fails the start, as systemd's ``EnvironmentFile=`` without ``-``);
  ``Restart=always`` with ``RestartSec=2`` (the unit's is 45); stopped with SIGTERM (host-ctr
  stops its task), SIGKILL after ``TimeoutStopSec=60``, then whatever is left of its session;
- ``host-containerd.service`` (``is-active``, ``start``): containerd on
  ``DIR/etc/host-containerd/config.toml`` (``host-containerd.toml`` rendered below DIR) in a
  mount namespace whose ``/run`` is ``DIR/run``. It starts with the first host container
  (``Wants=host-containerd.service`` and ``After=`` of the unit), so a boot without host
  containers never pays for it;
- ``configured.target`` (``is-active``): active once the boot is done (``configured``).

``stop()`` stops every unit (in parallel), deletes what tasks are left, then stops containerd:
nothing thar-boot started runs once it returns.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from thar.host_ctr.containerd import ContainerdError, ContainerdProcess, namespaced_command, render_config

from .host_containers import Tools, program
from .layout import Sandbox

__all__ = ["RESTART_SEC", "STOP_TIMEOUT", "Supervisor", "exec_start", "read_env_file"]

RESTART_SEC = 2.0  # host-containers@.service has RestartSec=45; a sandbox is watched by a person
STOP_TIMEOUT = 60.0  # the unit's TimeoutStopSec
CONTAINERD_UNIT = "host-containerd.service"
TARGET = "configured.target"
UNIT = re.compile(r"host-containers@([A-Za-z0-9:_.\\-]+)\.service")
OPTIONS = {"--now", "--no-block", "--no-reload", "--quiet", "-q"}
VERBS = ("enable", "disable", "start", "stop", "restart", "is-active")


def read_env_file(path: Path) -> dict[str, str]:
    """An ``EnvironmentFile=``: ``KEY=VALUE`` lines, ``#``/``;`` comments and blank lines
    skipped, one pair of surrounding quotes removed. Raises OSError when it cannot be read."""
    values = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def exec_start(sandbox: Sandbox, name: str, env: dict[str, str]) -> list[str]:
    """host-containers@NAME.service's ``ExecStart=`` in the sandbox, ``${VAR}`` from ``env``."""
    return [
        *program("host-ctr", "thar.host_ctr"),
        "run",
        f"--container-id={name}",
        f"--source={env.get('CTR_SOURCE', '')}",
        f"--superpowered={env.get('CTR_SUPERPOWERED', '')}",
        f"--registry-config={sandbox.root / 'etc/host-containers/host-ctr.toml'}",
    ]


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Service:
    """One ``host-containers@NAME.service``."""

    name: str
    enabled: bool = False
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    restart_at: float | None = None  # a start is due then (asked for, or Restart=always)
    stopping: bool = False
    attempts: int = 0  # starts tried, for a start that waits for its own
    failure: str = ""  # why the last start failed

    @property
    def unit(self) -> str:
        return f"host-containers@{self.name}.service"

    @property
    def state(self) -> str:
        if self.stopping:
            return "deactivating"
        if self.proc is not None:
            return "active"
        if self.restart_at is not None:
            return "activating"
        return "failed" if self.failure else "inactive"


_REAPING = threading.Lock()  # one thread at a time looks at, and reaps, a unit's process


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` has exited; if so, what is left of its process group is killed first
    (it was started in a session of its own, and while it is not reaped its id cannot be
    anyone else's), then it is reaped."""
    with _REAPING:
        if proc.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped already: its id may be someone else's now
            proc.wait()
            return True
        if info is None:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, SIGKILL after ``timeout``; then its session's leftovers; reaped."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    killed = False
    while not _exited(proc):
        if not killed and time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            killed = True
        time.sleep(0.05)


@dataclass
class Supervisor:
    """host-containerd and the host-containers@ units of one boot (see the module)."""

    sandbox: Sandbox
    tools: Tools
    env: dict[str, str]  # the boot's environment (THAR_ROOT, PATH): the units' too
    report: Callable[[str], None] = field(default=lambda line: print(f"thar-boot: {line}", file=sys.stderr))
    units: dict[str, Service] = field(default_factory=dict)
    containerd: ContainerdProcess | None = None
    containerd_ready: bool = False
    containerd_error: str = ""
    starting: threading.Lock = field(default_factory=threading.Lock)  # one containerd start at a time
    configured: bool = False  # configured.target is active
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)
    closing: threading.Event = field(default_factory=threading.Event)
    server: socketserver.ThreadingUnixStreamServer | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen for the systemctl stand-in and watch the units, each in a thread."""
        supervisor = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                # the stand-in's request: its arguments joined by NUL, then the end of its input
                request = self.rfile.read(65536).decode("utf-8", "surrogateescape")
                code, out, err = supervisor.handle(request.split("\0") if request else [])
                with contextlib.suppress(OSError):
                    self.wfile.write(f"{code}\0{out}\0{err}".encode())

        path = self.sandbox.systemctl_socket
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True
        os.chmod(path, 0o600)
        self.journal(f"thar-boot {os.getpid()} runs host containers; containerd {self.tools.containerd}")
        for target, name in ((self.server.serve_forever, "systemctl"), (self._watch, "units")):
            thread = threading.Thread(target=target, name=f"thar-boot-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Stop every unit, then containerd; stop answering. Idempotent."""
        self.closing.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        for thread in self.threads:
            thread.join()
        self.threads.clear()
        stoppers = [threading.Thread(target=self._stop_unit, args=(s,)) for s in list(self.units.values())]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        if self.containerd is not None:
            self._stop_containerd(self.containerd)
            self.containerd = None

    def journal(self, line: str) -> None:
        with contextlib.suppress(OSError), self.sandbox.journal.open("a", encoding="utf-8") as log:
            log.write(f"{_stamp()} {line}\n")

    # -- systemctl -----------------------------------------------------------------------------

    def handle(self, argv: list[str]) -> tuple[int, str, str]:
        """One systemctl command line: its exit status, stdout and stderr."""
        options = {a for a in argv if a.startswith("-")}
        words = [a for a in argv if not a.startswith("-")]
        if unknown := sorted(options - OPTIONS):
            return 1, "", f"systemctl: thar-boot's systemctl does not take {', '.join(unknown)}\n"
        if not words or words[0] not in VERBS:
            verb = words[0] if words else "(none)"
            return 1, "", f"systemctl: thar-boot's systemctl does not do '{verb}' (only {', '.join(VERBS)})\n"
        verb, units = words[0], words[1:]
        if not units:
            return 1, "", "Too few arguments.\n"
        if verb == "is-active":
            states = [self.state(unit) for unit in units]
            out = "" if options & {"--quiet", "-q"} else "".join(f"{s}\n" for s in states)
            return (0 if all(s == "active" for s in states) else 3), out, ""
        block = "--no-block" not in options
        for unit in units:
            match = UNIT.fullmatch(unit)
            if unit == CONTAINERD_UNIT and verb == "start":
                error = self._ensure_containerd()
                if error:
                    return 1, "", f"Job for {unit} failed: {error}\n"
                continue
            if match is None:
                known = unit in (CONTAINERD_UNIT, TARGET)
                why = "thar-boot only starts it" if known else f"Unit {unit} not found."
                return (1 if known else 5), "", f"Failed to {verb} {unit}: {why}\n"
            service = self._service(match.group(1))
            if verb in ("enable", "disable"):
                with self.lock:
                    service.enabled = verb == "enable"
                if "--now" not in options:
                    continue
                verb_now = "start" if verb == "enable" else "stop"
            else:
                verb_now = verb
            if verb_now in ("stop", "restart"):
                if block or verb_now == "restart":
                    self._stop_unit(service)
                else:
                    threading.Thread(target=self._stop_unit, args=(service,), daemon=True).start()
            if verb_now in ("start", "restart"):
                error = self._request_start(service, block)
                if error:
                    return 1, "", f"Job for {unit} failed: {error}\nSee {self.sandbox.unit_log(unit)}.\n"
        return 0, "", ""

    def state(self, unit: str) -> str:
        if unit == TARGET:
            return "active" if self.configured else "inactive"
        if unit == CONTAINERD_UNIT:
            if self.containerd is not None and self.containerd.running():
                return "active" if self.containerd_ready else "activating"  # Type=notify: active once ready
            return "failed" if self.containerd_error else "inactive"
        match = UNIT.fullmatch(unit)
        if match is None:
            return "inactive"
        with self.lock:
            service = self.units.get(match.group(1))
            return service.state if service is not None else "inactive"

    def _service(self, name: str) -> Service:
        with self.lock:
            return self.units.setdefault(name, Service(name))

    def _request_start(self, service: Service, block: bool) -> str:
        """Ask the watcher to start ``service`` (if it is not running); with ``block``, wait for
        that start: why it failed, or ``""``."""
        with self.changed:
            if (service.proc is not None and not service.stopping) or self.closing.is_set():
                return ""  # running (a stopping one starts again once stopped)
            before = service.attempts
            service.restart_at = time.monotonic()
            self.changed.notify_all()
            if not block:
                return ""
            while service.attempts == before and not self.closing.is_set():
                self.changed.wait(0.5)
            return service.failure if service.proc is None else ""

    # -- the watcher ---------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self.closing.is_set():
            self._tick()
            with self.changed:
                self.changed.wait(0.1)

    def _tick(self) -> None:
        now = time.monotonic()
        with self.lock:
            for service in self.units.values():
                proc = service.proc
                if proc is None or service.stopping or not _exited(proc):
                    continue
                service.proc = None
                self._close_log(service)
                service.restart_at = now + RESTART_SEC
                how = (
                    f"exited with status {proc.returncode}"
                    if proc.returncode >= 0
                    else f"killed by signal {-proc.returncode}"
                )
                self.journal(f"{service.unit}: {how}; Restart=always: started again in {RESTART_SEC:g} s")
                if proc.returncode != 0:
                    self.report(f"{service.unit} {how} (log: {self.sandbox.unit_log(service.unit)}); restarting it")
            due = [
                s for s in self.units.values() if s.proc is None and s.restart_at is not None and s.restart_at <= now
            ]
        if self.containerd is not None and not self.containerd.running():
            code = self.containerd.process.returncode
            self.journal(f"{CONTAINERD_UNIT}: exited with status {code}")
            self.report(f"{CONTAINERD_UNIT} exited with status {code} (log: {self.containerd.log})")
            self.containerd = None
            self.containerd_ready = False
        if not due or self.closing.is_set():
            return
        error = self._ensure_containerd()
        with self.changed:
            for service in due:
                if service.restart_at is None or self.closing.is_set():
                    continue  # stopped meanwhile
                service.restart_at = None
                if error:
                    self._failed(service, f"{CONTAINERD_UNIT} is not running: {error}")
                else:
                    self._spawn(service)
                service.attempts += 1
            self.changed.notify_all()

    def _failed(self, service: Service, why: str) -> None:
        if why != service.failure:  # said once, not at every attempt
            self.report(f"{service.unit} failed to start: {why}; trying again every {RESTART_SEC:g} s")
        service.failure = why
        service.restart_at = time.monotonic() + RESTART_SEC
        self.journal(f"{service.unit}: failed to start: {why}; started again in {RESTART_SEC:g} s")

    def _spawn(self, service: Service) -> None:
        """Start the unit's ExecStart; called with the lock held."""
        env = dict(self.env)
        for path in (
            self.sandbox.root / "etc/network/proxy.env",
            self.sandbox.root / f"etc/host-containers/{service.name}.env",
        ):
            try:
                env.update(read_env_file(path))
            except (OSError, UnicodeDecodeError) as exc:
                self._failed(
                    service, f"Failed to load environment file {path}: {getattr(exc, 'strerror', None) or exc}"
                )
                return
        argv = exec_start(self.sandbox, service.name, env)
        log_path = self.sandbox.unit_log(service.unit)
        try:
            service.log = log_path.open("ab")
            service.log.write(f"-- {_stamp()} {' '.join(argv)}\n".encode())
            service.log.flush()
            service.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=service.log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            self._close_log(service)
            self._failed(service, f"cannot run {argv[0]}: {exc.strerror or exc}")
            return
        service.failure = ""
        self.journal(f"{service.unit}: started (pid {service.proc.pid}): {' '.join(argv)}")

    @staticmethod
    def _close_log(service: Service) -> None:
        if service.log is not None:
            service.log.close()
            service.log = None

    def _stop_unit(self, service: Service) -> None:
        with self.lock:
            service.restart_at = None
            service.failure = ""  # stopped: inactive, not failed
            proc = service.proc
            if proc is None:
                return
            service.stopping = True
        self.journal(f"{service.unit}: stopping (SIGTERM to pid {proc.pid})")
        _terminate(proc, STOP_TIMEOUT)
        with self.changed:
            service.proc = None
            service.stopping = False
            self._close_log(service)
            self.changed.notify_all()
        how = (
            f"exited with status {proc.returncode}" if proc.returncode >= 0 else f"killed by signal {-proc.returncode}"
        )
        self.journal(f"{service.unit}: stopped ({how})")

    # -- host-containerd -----------------------------------------------------------------------

    def _ensure_containerd(self) -> str:
        """Start containerd unless it runs, and wait until it answers; why it could not, or ``""``."""
        with self.starting:
            return self._start_containerd()

    def _start_containerd(self) -> str:
        with self.lock:
            if self.containerd is not None and self.containerd.running() and self.containerd_ready:
                return ""
            if self.containerd is not None:
                self.containerd.stop()  # exited, or never answered
                self.containerd = None
            if self.closing.is_set():
                return "thar-boot is stopping"
        sandbox = self.sandbox
        started = time.monotonic()
        try:
            if sandbox.containerd_socket.exists():
                probe = subprocess.run(
                    [self.tools.ctr, "--address", str(sandbox.containerd_socket), "version"],
                    stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False,
                )  # fmt: skip
                if probe.returncode == 0:
                    raise ContainerdError(
                        f"another containerd serves {sandbox.containerd_socket} (an earlier thar-boot's?): stop it"
                    )
            sandbox.containerd_config.parent.mkdir(parents=True, exist_ok=True)
            sandbox.containerd_config.write_text(render_config(sandbox.root), encoding="utf-8")
            env = dict(self.env)
            with contextlib.suppress(OSError, UnicodeDecodeError):
                env.update(read_env_file(sandbox.root / "etc/network/proxy.env"))  # the unit's, optional here
            argv = namespaced_command(
                self.tools.containerd, sandbox.containerd_config, sandbox.root / "run", self.tools.unshare
            )
            process = ContainerdProcess(argv, sandbox.containerd_socket, sandbox.unit_log(CONTAINERD_UNIT), env)
            with self.lock:
                self.containerd = process
            process.wait_ready(self.tools.ctr)
        except (ContainerdError, OSError) as exc:
            error = str(exc)
            with self.lock:
                self.containerd = None
                again = error == self.containerd_error
                self.containerd_error = error
            self.journal(f"{CONTAINERD_UNIT}: failed: {error}")
            if not again:  # said once, not at every unit's attempt
                self.report(f"{CONTAINERD_UNIT} failed: {error}")
            return error
        with self.lock:
            self.containerd_ready = True
            self.containerd_error = ""
        took = time.monotonic() - started
        self.journal(f"{CONTAINERD_UNIT}: started (pid {process.pid}), ready in {took * 1000:.0f} ms")
        return ""

    def _stop_containerd(self, process: ContainerdProcess) -> None:
        """Delete the tasks left (each unit's host-ctr deletes its own), then SIGTERM containerd."""
        if process.running():
            ctr = [self.tools.ctr, "--address", str(process.socket)]

            def call(*args: str) -> list[str]:
                done = subprocess.run([*ctr, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                      timeout=60, check=False)  # fmt: skip
                return done.stdout.split() if done.returncode == 0 else []

            for namespace in call("namespaces", "ls", "-q"):
                for task in call("--namespace", namespace, "tasks", "ls", "-q"):
                    self.journal(f"{CONTAINERD_UNIT}: deleting the task {task} left in namespace {namespace}")
                    call("--namespace", namespace, "tasks", "delete", "--force", task)
        code = process.stop()
        self.journal(f"{CONTAINERD_UNIT}: stopped (exit status {code})")
