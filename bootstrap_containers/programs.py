"""The programs create-containers runs: ``systemctl`` and ``host-ctr``.

``BOOTSTRAP_CONTAINERS_SYSTEMCTL`` replaces the ``systemctl`` command line (split as a shell
would, no shell run), so tests without systemd give a recorder. Without it the command is
``/bin/systemctl``; under a sandbox root (``THAR_ROOT`` set) ``enable``, ``disable`` and
``is-enabled`` get ``--root THAR_ROOT`` (they act on the unit files below the root, never on
the machine's) and ``is-active`` answers "not active" without asking (no systemd manages a
sandbox root). ``BOOTSTRAP_CONTAINERS_HOST_CTR`` replaces ``host-ctr`` the same way; without
it, the host-ctr of the running thar is used (``python -m thar.host_ctr``), whatever the
``PATH``.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence

from thar.paths import thar_root_override

from .errors import CommandFailed

__all__ = ["HOST_CTR_ENV", "SYSTEMCTL", "SYSTEMCTL_ENV", "Programs", "run_checked"]

SYSTEMCTL = "/bin/systemctl"
SYSTEMCTL_ENV = "BOOTSTRAP_CONTAINERS_SYSTEMCTL"
HOST_CTR_ENV = "BOOTSTRAP_CONTAINERS_HOST_CTR"

log = logging.getLogger("bootstrap-containers")


def run_checked(argv: Sequence[str]) -> str:
    """Run ``argv`` (no shell, stdin closed); its stdout. ``CommandFailed`` when it cannot be
    started or exits non-zero, quoting its stderr (Bottlerocket's ``CommandFailure``)."""
    log.debug("running %s", shlex.join(argv))
    try:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    except OSError as err:
        raise CommandFailed(argv, f"cannot run it: {err.strerror or err}") from err
    log.log(5, "stdout: %s", done.stdout)
    log.log(5, "stderr: %s", done.stderr)
    if done.returncode != 0:
        why = done.stderr.strip() or done.stdout.strip() or "no output"
        raise CommandFailed(argv, f"exit status {done.returncode}, stderr: {why}")
    return done.stdout


class Programs:
    """``systemctl`` and ``host-ctr`` as the environment chooses them (see the module's text)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        override = env.get(SYSTEMCTL_ENV)
        self.root = None if override else thar_root_override(env)
        self.systemctl = shlex.split(override) if override else [SYSTEMCTL]
        host_ctr = env.get(HOST_CTR_ENV)
        self.host_ctr = shlex.split(host_ctr) if host_ctr else [sys.executable, "-m", "thar.host_ctr"]

    def _unit_files(self, *args: str) -> list[str]:
        return [*self.systemctl, *(["--root", self.root] if self.root else []), *args]

    def is_enabled(self, unit: str) -> bool:
        """``systemctl is-enabled UNIT``: a non-zero exit is "not enabled"; a systemctl that
        cannot be started is an error."""
        return self._status(self._unit_files("is-enabled", unit))

    def is_active(self, unit: str) -> bool:
        if self.root is not None:
            return False
        return self._status([*self.systemctl, "is-active", unit])

    def _status(self, argv: list[str]) -> bool:
        try:
            run_checked(argv)
        except CommandFailed as err:
            if isinstance(err.__cause__, OSError):
                raise
            return False
        return True

    def enable(self, unit: str) -> None:
        # Only enabled: the unit starts when the boot reaches configured.target (after the
        # reload that activate-configured.service makes); nothing is reloaded here.
        run_checked(self._unit_files("enable", unit, "--no-reload"))

    def disable(self, unit: str) -> None:
        # Bootstrap containers have finished by the time a user changes settings: no --now.
        run_checked(self._unit_files("disable", unit, "--no-reload"))

    def clean_up(self, container_id: str) -> None:
        """``host-ctr clean-up --container-id ID``: the container and its task deleted."""
        run_checked([*self.host_ctr, "clean-up", "--container-id", container_id])
