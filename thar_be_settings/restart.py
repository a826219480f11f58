"""Running restart commands, serialized and coalesced per service.

A command is split on every single space (no shell, no quoting; spec §7) and run with stdin
`/dev/null`, its output captured, and `CHANGED_SETTINGS` in the environment when there are
changed settings to report.

Several appliers can run at once (the API server starts one per commit, in the background).
Per service, under the run directory (`<root>/run/thar-be-settings/restart/`):

- `<service>.lock` is held (`flock`) while the service's commands run, so two restarts of one
  service never overlap;
- `<service>.pending` marks a restart that is queued but has not started. An applier that
  finds a live pending marker adds its changed settings to it and leaves the restart to the
  applier that queued it — that one starts after this applier's files are written, so one
  restart covers both changes. The queuing applier holds a `flock` on the marker while it
  waits; a marker nobody holds (its applier died) is taken over, settings and all.
- `<service>.queue` guards reading and updating the marker.

When restarts of a service arrive back to back, the service therefore restarts at most twice:
once for the change in progress and once for everything that arrived during it.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from thar.thar_be_settings.errors import RestartFailed, RestartSpawnFailed
from thar.thar_be_settings.log import log
from thar.thar_be_settings.report import command_result

__all__ = ["ALL_SETTINGS", "RestartQueue", "run_commands", "split_command"]

ALL_SETTINGS = "*"
"""The marker line that stands for "every setting" (an `--all` run: no CHANGED_SETTINGS)."""


def split_command(command: str) -> list[str]:
    """Split on every single ASCII space: `"a  b"` gives `["a", "", "b"]`."""
    return command.split(" ")


def run_commands(
    commands: Sequence[str],
    changed: Sequence[str] | None,
    env: Mapping[str, str] | None = None,
    results: list[dict[str, Any]] | None = None,
) -> None:
    """Run `commands` in order; the first failure raises `RestartFailed` / `RestartSpawnFailed`.

    `changed` (when not empty) is passed as `CHANGED_SETTINGS`, joined by single spaces. Each
    command run (or that failed to start) is added to `results` (`report.command_result`).
    """
    if not commands:
        return
    import subprocess  # only paid for when something restarts

    environ = dict(os.environ if env is None else env)
    if changed:
        environ["CHANGED_SETTINGS"] = " ".join(changed)
    for command in commands:
        argv = split_command(command)
        try:
            if not argv[0]:
                raise OSError(errno.ENOENT, "empty program name")
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, env=environ, check=False, close_fds=True
            )
        except OSError as exc:
            spawn = RestartSpawnFailed(command, exc)
            if results is not None:
                results.append(command_result(command, None, "", str(spawn)))
            raise spawn from exc
        stdout, stderr = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        log.trace(f"'{command}' exited {done.returncode}; stdout: {stdout!r}; stderr: {stderr!r}")
        if results is not None:
            results.append(command_result(command, done.returncode, stderr))
        if done.returncode != 0:
            raise RestartFailed(command, stderr)


def _marker_name(service: str) -> str:
    """A file name for `service`: `[A-Za-z0-9._-]` kept, anything else `%XX` (no `/`, no `..`)."""
    out = []
    for byte in service.encode("utf-8"):
        c = chr(byte)
        out.append(c if c.isascii() and (c.isalnum() or c in "-_") else f"%{byte:02X}")
    return "".join(out)


@contextmanager
def _flock(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


class RestartQueue:
    """Serialized, coalesced restarts of services, coordinated through files in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _paths(self, service: str) -> tuple[Path, Path, Path]:
        base = self.directory / _marker_name(service)
        return base.with_suffix(".queue"), base.with_suffix(".pending"), base.with_suffix(".lock")

    def enqueue(self, service: str, changed: Sequence[str] | None) -> int | None:
        """Queue a restart of `service` for `changed` (None: all settings).

        Returns the fd of the locked pending marker when this applier must run the restart,
        or None when a live queued restart absorbed these settings.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        queue, pending, _ = self._paths(service)
        lines = [ALL_SETTINGS] if changed is None else list(changed)
        text = "".join(f"{line}\n" for line in lines)
        with _flock(queue):
            fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.write(fd, text.encode("utf-8"))  # a live applier will restart for us too
                os.close(fd)
                return None
            except BaseException:
                os.close(fd)
                raise
            os.write(fd, text.encode("utf-8"))  # new marker, or a dead applier's: ours now
            return fd

    def take(self, service: str, marker: int) -> list[str] | None:
        """Consume the pending marker (under the queue lock): the settings to pass, None for all."""
        queue, pending, _ = self._paths(service)
        with _flock(queue):
            os.lseek(marker, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(marker, 65536):
                chunks.append(chunk)
            os.unlink(pending)
            os.close(marker)
        lines = [line for line in b"".join(chunks).decode("utf-8").split("\n") if line]
        if ALL_SETTINGS in lines:
            return None
        return list(dict.fromkeys(lines))

    def restart(
        self,
        service: str,
        commands: Sequence[str],
        changed: Sequence[str] | None,
        env: Mapping[str, str] | None,
        results: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Restart `service` unless a queued restart covers it; True if this call ran the commands
        (each command's result added to `results`)."""
        marker = self.enqueue(service, changed)
        if marker is None:
            log.info(f"restart of '{service}' already queued by another applier: coalesced")
            return False
        _, _, lock = self._paths(service)
        try:
            with _flock(lock):
                settings = self.take(service, marker)
                marker = -1
                log.info(f"restart commands {list(commands)}")
                run_commands(commands, settings, env, results)
        finally:
            if marker >= 0:
                os.close(marker)
        return True
