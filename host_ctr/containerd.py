"""host-containerd as a process of one's own: its configuration below a root, and containerd run
in a mount namespace whose ``/run`` is a folder of the caller's.

containerd 1.6's shims keep their sockets in ``/run/containerd/s`` whatever the configuration
says, so a containerd that must leave the machine's ``/run`` alone (a sandbox's, a test's) runs
as ``unshare --mount --propagation private -- sh -c 'mount --bind RUN /run && exec containerd
--config CONFIG'``: in its namespace, and its shims', ``/run`` is ``RUN``; its mounts (the
containers' root filesystems) never reach the machine's mount table, and the namespace is gone
with its last process. Its root, state and socket are absolute paths, the same in both
namespaces, as long as they are not below ``/run`` itself.
"""

from __future__ import annotations

import signal
import subprocess
import time
import tomllib
from importlib import resources
from pathlib import Path

import toml

__all__ = [
    "CONFIG_RESOURCE",
    "SOCKET",
    "ContainerdError",
    "ContainerdProcess",
    "mount_namespace_error",
    "namespaced_command",
    "render_config",
]

CONFIG_RESOURCE = "host-containerd.toml"  # beside this module
SOCKET = "run/host-containerd/containerd.sock"  # below the root, as host-ctr's default


class ContainerdError(Exception):
    """containerd could not be started, or did not answer; the message says why and where its log is."""


def _below(root: Path, path: str) -> str:
    return str(root / path.lstrip("/"))


def render_config(root: Path) -> str:
    """host-containerd's configuration (``host-containerd.toml``) with its root, state and socket
    below ``root``: ``ROOT/var/lib/host-containerd``, ``ROOT/run/host-containerd``,
    ``ROOT/run/host-containerd/containerd.sock``. Everything else as shipped."""
    text = (resources.files(__package__) / CONFIG_RESOURCE).read_text(encoding="utf-8")
    config = tomllib.loads(text)
    config["root"] = _below(root, config["root"])
    config["state"] = _below(root, config["state"])
    config["grpc"]["address"] = _below(root, config["grpc"]["address"])
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    return f"{header}# Rendered below {root}.\n{toml.dumps(config)}"


def namespaced_command(containerd: str, config: Path, run: Path, unshare: str = "unshare") -> list[str]:
    """``containerd --config CONFIG`` in a mount namespace of its own whose ``/run`` is ``run``."""
    script = 'mount --bind "$1" /run && exec "$2" --config "$3"'
    return [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
            "sh", str(run), containerd, str(config)]  # fmt: skip


def mount_namespace_error(unshare: str = "unshare") -> str | None:
    """Why a mount namespace with ``/run`` bound over cannot be made here, or None when it can."""
    try:
        done = subprocess.run(
            [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", "mount --bind /run /run"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {unshare}: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no error output)"])[-1]
        return f"cannot make a mount namespace ({unshare}: {last})"
    return None


class ContainerdProcess:
    """A containerd started from ``argv`` (``namespaced_command``) in a session of its own, its
    output appended to ``log``; ``wait_ready`` until ``ctr version`` answers on ``socket``."""

    def __init__(self, argv: list[str], socket: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.socket = socket
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with log.open("ab") as out:
                self.process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True,  # a terminal's Ctrl-C is for its supervisor, which stops it in order
                )  # fmt: skip
        except OSError as exc:
            raise ContainerdError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:].strip() or "(no output)"
        except OSError:
            return "(no log)"

    def wait_ready(self, ctr: str, timeout: float = 30.0) -> float:
        """Wait until ``ctr --address SOCKET version`` answers; the seconds it took. Raises
        ``ContainerdError`` (with the log's tail) when containerd exits first or is not ready in time."""
        started = time.monotonic()
        while True:
            code = self.process.poll()
            if code is not None:
                raise ContainerdError(f"containerd exited with status {code}: {self.log_tail()}")
            if self.socket.exists():
                done = subprocess.run(
                    [ctr, "--address", str(self.socket), "version"],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=timeout,
                    check=False,
                )
                if done.returncode == 0:
                    return time.monotonic() - started
            if time.monotonic() - started > timeout:
                self.stop()
                raise ContainerdError(f"containerd did not answer on {self.socket} in {timeout:g} s: {self.log_tail()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; its exit status. Idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
