"""``ctr`` as host-ctr's containerd client: every call checks ctr's exit status and turns a
failure into a :class:`CtrError` naming what it was about (image, container, socket)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Ctr", "CtrError"]


class CtrError(Exception):
    """A ``ctr`` call failed; the message names the container or image and quotes ctr's error."""


def _ctr_message(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    message = lines[-1] if lines else "(no error output)"
    return message.removeprefix("ctr: ")


class Ctr:
    def __init__(self, socket: Path, namespace: str, binary: str | None = None) -> None:
        self.socket = socket
        self.namespace = namespace
        found = binary or os.environ.get("HOST_CTR_CTR") or shutil.which("ctr")
        if not found:
            raise CtrError("ctr (containerd's client) is not on PATH")
        self.binary = found

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--address", str(self.socket), "--namespace", self.namespace, *args]

    def check_socket(self) -> None:
        if not self.socket.exists():
            raise CtrError(f"containerd socket {self.socket} does not exist (is host-containerd running?)")
        self.call(["version"], what=f"containerd at {self.socket}", timeout=10)

    def call(
        self, args: Sequence[str], what: str, timeout: float | None = 120, env: dict[str, str] | None = None
    ) -> str:
        """Run ``ctr ARGS``; its stdout, or CtrError("WHAT: ctr's message")."""
        try:
            done = subprocess.run(
                self.argv(*args), capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired as e:
            raise CtrError(f"{what}: ctr {args[0]} timed out after {timeout:g} s") from e
        if done.returncode != 0:
            raise CtrError(f"{what}: {_ctr_message(done.stderr)}")
        return done.stdout

    def images(self) -> set[str]:
        return set(self.call(["images", "ls", "-q"], what="listing images").split())

    def containers(self) -> set[str]:
        return set(self.call(["containers", "ls", "-q"], what="listing containers").split())

    def task_status(self, container_id: str) -> str | None:
        """The task's status (RUNNING, STOPPED, ...) or None without a task."""
        for line in self.call(["tasks", "ls"], what="listing tasks").splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3 and fields[0] == container_id:
                return fields[2]
        return None
