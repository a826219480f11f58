"""Running the steps: each one a process, started in its turn or ahead of it (held before its
``main()`` until released, or run early with storewolf), its output logged, its exit status
checked; ``Boot`` keeps the timeline's results and owns the apiserver.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .activation import Apiserver
from .errors import StepFailed
from .layout import Sandbox
from .prepare import prepare
from .programs import child_env, command, held_command, installed
from .signals import DEFERRAL
from .steps import BOOT_STEPS, Step
from .timeline import StepResult, format_timeline, write_timeline

__all__ = ["Boot", "Running"]


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
    # This boot's own programs, first on every step's PATH, and variables of its own
    # (host containers: DIR/run/thar/bin, HOST_CONTAINERS_SYSTEMCTL).
    bin_first: tuple[Path, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)

    def run(self, user_data: Path | None) -> None:
        sandbox = self.sandbox
        self.t0 = time.perf_counter()
        self.first_boot = not sandbox.datastore.exists()
        note = prepare(sandbox, user_data)
        self.results.append(StepResult("prepare", "-", "ok", 0.0, time.perf_counter() - self.t0, note))
        self.env = child_env(sandbox, self.bin_first, self.extra_env)
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
        clean-up finds it; the two in one piece (see ``Deferral``)."""
        with DEFERRAL.deferred():
            running = self.early[index] = Running.spawn(step, self.sandbox, self.env, log, held=held)
        return running

    def start_apiserver(self, step: Step, held: bool = False) -> Apiserver:
        """Start the apiserver and record it, in one piece (see ``Deferral``)."""
        with DEFERRAL.deferred():
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
        write_timeline(self.sandbox, self.first_boot, self.results, self.total)

    def timeline(self) -> str:
        total = self.total or (time.perf_counter() - self.t0)
        return format_timeline(self.sandbox, self.first_boot, self.results, total)
