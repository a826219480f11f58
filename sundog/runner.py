"""Running one setting generator: a command without a shell, stdin `/dev/null`, output captured.

Exit 0: the trimmed standard output is one JSON value. Exit 2: skip this setting. Anything
else, a timeout or a program that cannot be started is an error naming the setting, the
command and the generator's stderr.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .builtin import SKIP, find_builtin
from .errors import (
    GeneratorFailed,
    GeneratorOutputInvalid,
    GeneratorSpawnFailed,
    GeneratorTimedOut,
)
from .generators import Generator, split_command

__all__ = ["DEFAULT_TIMEOUT", "SKIP_EXIT_CODE", "Outcome", "parse_output", "run_generator"]

DEFAULT_TIMEOUT = 360.0
"""Seconds a generator may run (upstream's limit)."""

SKIP_EXIT_CODE = 2
"""A generator exiting 2 means: do not set this setting."""

log = logging.getLogger("sundog")

PROGRESS_INTERVAL = 10.0
"""Seconds between the "still waiting" lines logged for a slow generator."""


@dataclass(frozen=True)
class Outcome:
    """What a generator produced: `skipped`, or a `value` (None for JSON null), and how long it took."""

    generator: Generator
    skipped: bool
    value: Any
    seconds: float


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_output(generator: Generator, output: bytes) -> Any:
    """The JSON value of a generator's standard output (UTF-8, surrounding whitespace trimmed)."""
    try:
        text = output.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GeneratorOutputInvalid(generator.key, generator.command, f"not UTF-8 ({exc})", repr(output)) from exc
    trimmed = text.strip()
    try:
        return json.loads(trimmed, parse_constant=_reject_constant)
    except ValueError as exc:
        reason = "empty output" if not trimmed else str(exc)
        raise GeneratorOutputInvalid(generator.key, generator.command, reason, trimmed) from exc


def run_generator(generator: Generator, env: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """Run one generator and return its outcome; raises a `SundogError` when it fails."""
    argv = split_command(generator.key, generator.command)
    program = os.path.basename(argv[0])
    started = time.monotonic()
    builtin = find_builtin(argv, env.get("PATH", os.defpath))
    if builtin is not None:
        value = builtin()
        seconds = time.monotonic() - started
        log.info(
            "Program '%s' not found; ran thar's built-in '%s' for '%s' in %.3f s",
            argv[0], " ".join(argv), generator.key, seconds,
        )  # fmt: skip
        if value is SKIP:
            log.warning("'%s' returned %d, not setting '%s'", program, SKIP_EXIT_CODE, generator.key)
            return Outcome(generator, True, None, seconds)
        return Outcome(generator, False, value, seconds)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,  # its own process group, so a timeout kills its children too
        )
    except OSError as exc:
        raise GeneratorSpawnFailed(generator.key, generator.command, exc) from exc
    deadline = started + timeout
    while True:
        try:
            stdout, stderr_bytes = proc.communicate(
                timeout=max(0.0, min(PROGRESS_INTERVAL, deadline - time.monotonic()))
            )
            break
        except subprocess.TimeoutExpired:
            waited = time.monotonic() - started
            if time.monotonic() >= deadline:
                late = _kill(proc)
                raise GeneratorTimedOut(generator.key, generator.command, timeout, late) from None
            log.info("Still waiting for generator '%s' for '%s' (%.0f s of %g s)", generator.command,
                     generator.key, waited, timeout)  # fmt: skip
    seconds = time.monotonic() - started
    stderr = stderr_bytes.decode("utf-8", "replace")
    code = proc.returncode
    log.info("Generator for '%s' ('%s') exited %d after %.3f s", generator.key, generator.command, code, seconds)
    if code == 0:
        for line in stderr.splitlines():
            log.info("Setting generator command '%s' stderr: %s", program, line)
        return Outcome(generator, False, parse_output(generator, stdout), seconds)
    if code == SKIP_EXIT_CODE:
        log.warning(
            "'%s' returned %d, not setting '%s', continuing with other generators",
            program, SKIP_EXIT_CODE, generator.key,
        )  # fmt: skip
        for line in stderr.splitlines():
            log.info("Setting generator command '%s' stderr: %s", program, line)
        return Outcome(generator, True, None, seconds)
    raise GeneratorFailed(generator.key, generator.command, code, stderr)


def _kill(proc: subprocess.Popen[bytes]) -> str:
    """Kill a generator's process group; whatever it wrote on stderr."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    try:
        _, late = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # something outside the group still holds its pipes
        return ""
    return late.decode("utf-8", "replace")
