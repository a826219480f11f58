"""host-containers and host-ctr bring real containers up and down: the real apiserver in a
sandbox, a real containerd and registry (tests/containers.py), and ``systemctl_standin.py``
running ``host-containers@NAME.service`` as its unit does (host-ctr run in the foreground, on
the environment file host-containers wrote; stopped with SIGTERM)."""

from __future__ import annotations

import base64
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.containers import Containerd, PushedImage, Registry, busybox_image, host_ctr_command, push_image
from tests.early_boot_config.sandbox import MakeSandbox, Sandbox

STANDIN = Path(__file__).with_name("systemctl_standin.py")
# What the container does: show the user data it was given and its version, then stay up until
# SIGTERM, which it obeys at once (as PID 1 a plain `sleep` would ignore it, and each stop would
# wait out host-ctr's grace).
SCRIPT = (
    "cd /.bottlerocket/host-containers/current && (cat user-data || true) > seen && echo {version} > version && "
    "trap 'exit 0' TERM && while :; do sleep 0.2; done"
)


def image(registry: Registry, version: str) -> PushedImage:
    return push_image(
        registry, "thar/admin", version, busybox_image(cmd=["/bin/sh", "-c", SCRIPT.format(version=version)])
    )


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60, log: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} after {timeout} s; {log()}"
        time.sleep(0.1)


class Host:
    """The sandbox's host-containers, with the stand-in as systemctl and host-ctr on ``containerd``."""

    def __init__(self, sandbox: Sandbox, containerd: Containerd, state: Path) -> None:
        self.sandbox, self.containerd, self.state = sandbox, containerd, state
        host_ctr = shlex.join(host_ctr_command(containerd))
        self.env = {
            "HOST_CONTAINERS_SYSTEMCTL": shlex.join([sys.executable, str(STANDIN)]),
            "HOST_CONTAINERS_HOST_CTR": host_ctr,
            "STANDIN_HOST_CTR": host_ctr,
            "STANDIN_LOG": str(state / "calls.jsonl"),
            "STANDIN_STATE": str(state),
            "STANDIN_ACTIVE": "configured.target host-containerd.service",
            "HOST_CTR_PULL_RETRIES": "0",
            "HOST_CTR_STOP_GRACE": "2",
        }

    def set(self, changed: str, **admin: object) -> None:
        """Commit ``admin``'s settings through the API, then run host-containers as
        thar-be-settings does for that change."""
        client = self.sandbox.client()
        client.patch_ok("/settings?tx=t", {"host-containers": {"admin": admin}})
        assert client.post("/tx/commit?tx=t").status == 200
        done = self.sandbox.run("thar.host_containers", env={**self.env, "CHANGED_SETTINGS": changed})
        assert done.returncode == 0, done.stdout + done.stderr + self.log()

    def log(self) -> str:
        path = self.state / "admin.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(host-ctr never ran)"

    def task(self) -> str | None:
        return self.containerd.tasks().get("admin")

    def storage(self, name: str) -> Path:
        return self.sandbox.root / "local/host-containers/admin" / name

    def pids(self) -> list[int]:
        return [int(p.read_text()) for p in self.state.glob("*.pid")]


@pytest.fixture
def host(make_sandbox: MakeSandbox, containerd: Containerd, tmp_path: Path) -> Iterator[Host]:
    state = tmp_path / "units"
    state.mkdir()
    host = Host(make_sandbox(), containerd, state)
    try:
        yield host
    finally:
        for pid in host.pids():  # host-ctr processes the stand-in started and nobody stopped
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for pid in host.pids():
            deadline = time.monotonic() + 30
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)


def test_enabling_runs_the_container_with_its_user_data_and_disabling_removes_it(
    host: Host, registry: Registry
) -> None:
    v1 = image(registry, "v1")
    user_data = base64.b64encode(b"hello from the user data\n").decode()
    host.set(
        "settings.host-containers.admin.source settings.host-containers.admin.enabled",
        source=v1.tag,
        enabled=True,
        superpowered=False,
        **{"user-data": user_data},
    )
    wait_for("admin is not running", lambda: host.task() == "RUNNING", log=host.log)
    wait_for("the container did not start its script", lambda: host.storage("version").exists(), log=host.log)
    assert host.storage("seen").read_text() == "hello from the user data\n"
    assert host.storage("version").read_text() == "v1\n"

    host.set("settings.host-containers.admin.enabled", enabled=False)
    assert host.task() is None
    assert "admin" not in host.containerd.containers()
    assert "container admin exited" in host.log()


def test_a_new_source_replaces_the_running_container(host: Host, registry: Registry) -> None:
    v1, v2 = image(registry, "v1"), image(registry, "v2")
    host.set("settings.host-containers.admin.source", source=v1.tag, enabled=True, superpowered=False)
    wait_for("v1 did not start", lambda: host.storage("version").exists(), log=host.log)
    assert host.storage("version").read_text() == "v1\n"
    first = host.pids()
    host.storage("version").unlink()

    host.set("settings.host-containers.admin.source", source=v2.tag)
    wait_for("v2 did not start", lambda: host.storage("version").exists(), log=host.log)
    assert host.storage("version").read_text() == "v2\n"
    assert host.task() == "RUNNING"
    assert host.pids() != first  # a new host-ctr: the unit was stopped and started
    info = host.containerd.ctr("containers", "info", "admin").stdout
    assert v2.tag in info and v1.tag not in info


def test_a_change_to_another_setting_leaves_the_container_running(host: Host, registry: Registry) -> None:
    v1 = image(registry, "v1")
    host.set("settings.host-containers.admin.source", source=v1.tag, enabled=True, superpowered=False)
    wait_for("admin is not running", lambda: host.task() == "RUNNING", log=host.log)
    before = host.containerd.ctr("tasks", "ls").stdout
    changed = {"CHANGED_SETTINGS": "settings.host-containers.other.source"}
    done = host.sandbox.run("thar.host_containers", env={**host.env, **changed})
    assert done.returncode == 0, done.stderr
    assert host.containerd.ctr("tasks", "ls").stdout == before  # the same task, the same pid
