"""Host containers under real systemd: ``apiclient set host-containers.admin...`` on a thar-dev
host runs the container in host-containerd (host-containers → host-containers@admin.service →
host-ctr), ``enabled=false`` stops it and disables its unit, and systemd starts it again when
its task exits (``Restart=always``).

The image comes from a docker-registry inside the host (its network is private), serving the
storage a registry on this machine was given the images in. The host is booted with
``host_containers=True`` (``thar/sandbox/host.py``: the keyring and bpf calls runc needs, a
tmpfs for host-containerd's root, the unified cgroup hierarchy). Superpowered containers need
capabilities nspawn does not give its container; tests/host_ctr covers them on this machine."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.containers import REGISTRY, Registry, _stop, busybox_image, push_image, require, start_registry
from thar.sandbox.host import ThrowawayHost

from .conftest import MakeHost

SOCKET = "/run/host-containerd/containerd.sock"
REGISTRY_PORT = 5000
REGISTRY_STORAGE = "/var/lib/thar-test-registry"
UNIT = "host-containers@admin.service"
# The container leaves its user data in its persistent storage and stays up until SIGTERM, which
# it answers by exiting 0 (as a host container should: host-ctr exits with its status).
SCRIPT = (
    "cd /.bottlerocket/host-containers/current && (cat user-data || true) > seen && "
    "trap 'exit 0' TERM && while true; do sleep 1; done"
)
# The unit's own RestartSec is 45 s; this host restarts a failed container after 1 s.
RESTART_DROPIN = "[Service]\nRestartSec=1\n"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry on this machine, given the test image and stopped: the host serves its storage."""
    require(REGISTRY, "/usr/bin/containerd", "/usr/bin/ctr", "/usr/sbin/runc", "/usr/bin/busybox")
    registry = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        push_image(registry, "thar/admin", "v1", busybox_image(cmd=["/bin/sh", "-c", SCRIPT]))
    finally:
        _stop(registry.process)
    yield registry


@pytest.fixture(scope="module")
def host(images: Registry, make_module_host: MakeHost) -> ThrowawayHost:
    host = make_module_host(host_containers=True)
    shutil.copytree(images.storage, host.root / REGISTRY_STORAGE.lstrip("/"))
    host.write(
        "/etc/thar-test-registry.yml",
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {REGISTRY_STORAGE}\nhttp:\n  addr: 127.0.0.1:{REGISTRY_PORT}\n",
    )
    host.write("/etc/systemd/system/host-containers@.service.d/thar-test.conf", RESTART_DROPIN)
    assert host.boot() == "running", host.systemctl("list-units", "--failed").stdout
    host.run(["systemd-run", "--unit=thar-test-registry", REGISTRY, "serve", "/etc/thar-test-registry.yml"], timeout=30)
    probe = f"import urllib.request as u; u.urlopen('http://127.0.0.1:{REGISTRY_PORT}/v2/', timeout=5)"
    wait_for(
        "the registry in the host does not answer",
        lambda: host.run(["python", "-c", probe], check=False).returncode == 0,
    )
    return host


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60, log: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} after {timeout} s; {log()}"
        time.sleep(0.2)


def tasks(host: ThrowawayHost) -> dict[str, tuple[str, str]]:
    """host-containerd's tasks: id -> (pid, status)."""
    out = host.run(["ctr", "-a", SOCKET, "tasks", "ls"]).stdout.splitlines()[1:]
    return {f[0]: (f[1], f[2]) for f in (line.split() for line in out) if len(f) >= 3}


def state(host: ThrowawayHost) -> dict[str, str]:
    return host.show(UNIT, "ActiveState", "SubState", "UnitFileState", "NRestarts", "InvocationID", "MainPID")


def diagnostics(host: ThrowawayHost) -> Callable[[], str]:
    return lambda: f"{state(host)}\n{host.journal(UNIT)[-3000:]}\n{host.journal('host-containerd.service')[-1500:]}"


def set_wait(host: ThrowawayHost, *assignments: str) -> dict[str, Any]:
    done = host.run(["apiclient", "set", "--wait", *assignments], timeout=120)
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["status"] == "applied", report
    # thar-be-settings ran the host-containers service's restart command, host-containers
    (service,) = [s for s in report["services"] if s["name"] == "host-containers"]
    assert service["status"] == "restarted", report
    return report


def test_host_containerd_runs_after_the_boot(host: ThrowawayHost) -> None:
    assert host.show("host-containerd.service", "ActiveState")["ActiveState"] == "active"
    assert host.run(["ctr", "-a", SOCKET, "version"]).returncode == 0
    # the boot's host-containers run left the variant's disabled admin and control stopped
    assert host.run(["cat", "/etc/host-containers/admin.env"]).stdout.startswith("CTR_SUPERPOWERED=true\n")
    assert state(host)["ActiveState"] == "inactive"


def test_enabling_a_host_container_runs_it_in_host_containerd(host: ThrowawayHost) -> None:
    source = f"127.0.0.1:{REGISTRY_PORT}/thar/admin:v1"
    user_data = "aGVsbG8gZnJvbSB0aGUgdXNlciBkYXRhCg=="  # "hello from the user data\n"
    set_wait(
        host,
        f"host-containers.admin.source={source}",
        "host-containers.admin.superpowered=false",
        f"host-containers.admin.user-data={user_data}",
        "host-containers.admin.enabled=true",
    )
    wait_for(
        "admin's task is not running", lambda: tasks(host).get("admin", ("", ""))[1] == "RUNNING", log=diagnostics(host)
    )
    unit = state(host)
    assert (unit["ActiveState"], unit["SubState"], unit["UnitFileState"]) == ("active", "running", "enabled")
    assert host.run(["cat", "/etc/host-containers/admin.env"]).stdout.startswith(
        f"CTR_SUPERPOWERED=false\nCTR_SOURCE={source}\n"
    )
    seen = "/local/host-containers/admin/seen"
    wait_for(
        "the container did not read its user data", lambda: host.run(["test", "-s", seen], check=False).returncode == 0
    )
    assert host.run(["cat", seen]).stdout == "hello from the user data\n"


def test_apiclient_exec_runs_a_command_in_the_running_container(host: ThrowawayHost) -> None:
    """The host's apiserver execs into host-containerd's container (its default exec socket)."""
    wait_for("admin is not running", lambda: tasks(host).get("admin", ("", ""))[1] == "RUNNING", log=diagnostics(host))
    command = "cat /.bottlerocket/host-containers/current/user-data; echo from $(cat /proc/1/comm); exit 3"
    done = host.run(["apiclient", "exec", "--no-tty", "admin", "sh", "-c", command], check=False, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == ["hello from the user data", "from sh"], done.stdout
    stopped = host.run(["apiclient", "exec", "--no-tty", "control", "true"], check=False, timeout=60)
    assert stopped.returncode != 0
    # the variant's control container is disabled: host-containerd has no container of that name
    assert stopped.stderr == "Failed to exec: failed to spawn process: no container 'control'\n", stopped.stderr


def test_a_container_whose_task_exits_is_started_again(host: ThrowawayHost) -> None:
    wait_for("admin is not running", lambda: "admin" in tasks(host), log=diagnostics(host))
    before, (pid, _) = state(host), tasks(host)["admin"]
    host.run(["ctr", "-a", SOCKET, "tasks", "kill", "--signal", "SIGKILL", "admin"])

    def restarted() -> bool:
        now = state(host)
        task = tasks(host).get("admin")
        return now["InvocationID"] != before["InvocationID"] and task is not None and task[1] == "RUNNING"

    wait_for("systemd did not start admin again", restarted, log=diagnostics(host))
    assert int(state(host)["NRestarts"]) == int(before["NRestarts"]) + 1
    assert tasks(host)["admin"][0] != pid


def test_disabling_a_host_container_stops_it_and_disables_its_unit(host: ThrowawayHost) -> None:
    wait_for("admin is not running", lambda: "admin" in tasks(host), log=diagnostics(host))
    set_wait(host, "host-containers.admin.enabled=false")
    wait_for("admin's unit is still active", lambda: state(host)["ActiveState"] == "inactive", log=diagnostics(host))
    assert state(host)["UnitFileState"] == "disabled"
    assert "admin" not in tasks(host)
    assert "admin" not in host.run(["ctr", "-a", SOCKET, "containers", "ls", "-q"]).stdout.split()
