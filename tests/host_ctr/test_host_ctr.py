"""host-ctr on a real containerd (tests/containers.py), pulling from a real registry."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers import Containerd, PushedImage, Registry, _free_port, busybox_image, host_ctr_command, push_image

REPO = Path(__file__).resolve().parents[2]


class HostCtr:
    def __init__(self, daemon: Containerd, root: Path) -> None:
        self.daemon = daemon
        self.root = root
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "THAR_ROOT": str(root),
            "HOST_CTR_PULL_RETRIES": "0",
            "HOST_CTR_STOP_GRACE": "2",
        }

    def argv(self, *args: str) -> list[str]:
        return host_ctr_command(self.daemon, *args)

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), env={**self.env, **env}, capture_output=True, text=True, timeout=60, check=False
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )


@pytest.fixture
def host_ctr(containerd: Containerd, tmp_path: Path) -> HostCtr:
    root = tmp_path / "root"
    root.mkdir()
    return HostCtr(containerd, root)


def push(registry: Registry, script: str, repo: str = "thar/test") -> PushedImage:
    return push_image(registry, repo, "latest", busybox_image(cmd=["/bin/sh", "-c", script]))


@pytest.fixture
def api_socket(host_ctr: HostCtr) -> Iterator[Path]:
    path = host_ctr.root / "run/api.sock"
    path.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        yield path


def test_pull_by_tag_and_by_digest(host_ctr: HostCtr, registry: Registry) -> None:
    image = push(registry, "true")
    for ref in (image.tag, image.digest):
        done = host_ctr("pull-image", "--source", ref)
        assert done.returncode == 0, done.stderr
        assert ref in host_ctr.daemon.images()
    skipped = host_ctr("pull-image", "--source", image.tag, "--skip-if-image-exists")
    assert skipped.returncode == 0 and "using the cached image" in skipped.stdout


def test_run_exits_with_the_task_status_and_keeps_the_storage(
    host_ctr: HostCtr, registry: Registry, api_socket: Path
) -> None:
    storage = host_ctr.root / "local/host-containers/box"
    storage.mkdir(parents=True)
    (storage / "user-data").write_text("hello\n")
    script = (
        "d=/.bottlerocket/host-containers/box; echo written > $d/out; "
        "test -S /run/api.sock && echo socket >> $d/out; "
        "cat $d/user-data >> $d/out; test -d /.bottlerocket/host-containers/current && echo current >> $d/out; "
        "test -x /usr/local/bin/apiclient && echo apiclient >> $d/out; "
        "test -e /.bottlerocket/rootfs && echo rootfs >> $d/out; exit 3"
    )
    image = push(registry, script)
    done = host_ctr("run", "--container-id", "box", "--source", image.tag)
    assert done.returncode == 3, done.stderr
    assert (storage / "out").read_text().split() == ["written", "socket", "hello", "current", "apiclient"]
    assert "box" not in host_ctr.daemon.containers()
    assert "box" not in host_ctr.daemon.tasks()


def test_superpowered_sees_the_host_root(host_ctr: HostCtr, registry: Registry) -> None:
    (host_ctr.root / "marker").write_text("the host\n")
    seen = "/.bottlerocket/host-containers/admin/seen"
    script = f"cat /.bottlerocket/rootfs/marker > {seen}; test -d /proc/{os.getpid()} && echo host-pids >> {seen}"
    image = push(registry, script)
    done = host_ctr("run", "--container-id", "admin", "--source", image.tag, "--superpowered", "true")
    assert done.returncode == 0, done.stderr
    assert (host_ctr.root / "local/host-containers/admin/seen").read_text() == "the host\nhost-pids\n"
    plain = host_ctr("run", "--container-id", "admin", "--source", image.tag)
    assert plain.returncode == 1  # no host root: cat fails


def test_bootstrap_containers_have_their_prefix_and_directory(host_ctr: HostCtr, registry: Registry) -> None:
    image = push(registry, "echo boot > /.bottlerocket/bootstrap-containers/setup/ran")
    done = host_ctr("run", "--container-id", "setup", "--source", image.tag, "--container-type", "bootstrap")
    assert done.returncode == 0, done.stderr
    assert (host_ctr.root / "local/bootstrap-containers/setup/ran").read_text() == "boot\n"
    bad = host_ctr("run", "--container-id", "x", "--source", image.tag, "--container-type", "bootstrap",
                   "--superpowered", "true")  # fmt: skip
    assert bad.returncode == 1 and "can't be superpowered" in bad.stderr


def _wait_running(daemon: Containerd, container_id: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while daemon.tasks().get(container_id) != "RUNNING":
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the task never ran"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("script", "status"),
    [("trap 'exit 7' TERM; sleep 300 & wait", 7), ("exec sleep 300", 137)],  # PID 1 without a handler: SIGKILL
    ids=["sigterm", "sigkill-after-grace"],
)
def test_sigterm_stops_and_deletes_the_task(host_ctr: HostCtr, registry: Registry, script: str, status: int) -> None:
    image = push(registry, script)
    process = host_ctr.popen("run", "--container-id", "stopme", "--source", image.tag)
    _wait_running(host_ctr.daemon, "stopme", process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == status, err
    assert "stopme" not in host_ctr.daemon.containers()
    assert "stopme" not in host_ctr.daemon.tasks()


def test_a_stale_container_is_replaced_and_clean_up_removes_one(host_ctr: HostCtr, registry: Registry) -> None:
    image = push(registry, "exit 0")
    assert host_ctr("pull-image", "--source", image.tag).returncode == 0
    host_ctr.daemon.ctr("containers", "create", image.tag, "stale")
    done = host_ctr("run", "--container-id", "stale", "--source", image.tag, "--use-cached-image")
    assert done.returncode == 0, done.stderr
    assert "replacing the stale container stale" in done.stdout
    host_ctr.daemon.ctr("containers", "create", image.tag, "left")
    assert host_ctr("clean-up", "--container-id", "left").returncode == 0
    assert "left" not in host_ctr.daemon.containers()
    again = host_ctr("clean-up", "--container-id", "left")
    assert again.returncode == 0 and "no clean up necessary" in again.stdout


def test_bad_references_registries_and_sockets_are_clear_errors(
    host_ctr: HostCtr, registry: Registry, tmp_path: Path
) -> None:
    missing = f"{registry.host}/thar/none:latest"
    done = host_ctr("pull-image", "--source", missing)
    assert done.returncode == 1 and f"pulling image {missing}:" in done.stderr and "not found" in done.stderr
    unreachable = f"127.0.0.1:{_free_port()}/thar/test:latest"
    done = host_ctr("run", "--container-id", "x", "--source", unreachable)
    assert done.returncode == 1 and f"pulling image {unreachable}:" in done.stderr
    assert "connection refused" in done.stderr
    invalid = host_ctr("pull-image", "--source", "Not A Reference")
    assert invalid.returncode == 1 and "pulling image Not A Reference:" in invalid.stderr
    gone = tmp_path / "gone.sock"
    done = subprocess.run(
        [sys.executable, "-m", "thar.host_ctr", "--containerd-socket", str(gone), "clean-up", "--container-id", "x"],
        env=host_ctr.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and f"containerd socket {gone} does not exist" in done.stderr
    config = tmp_path / "bad.toml"
    config.write_text("[mirrors\n")
    done = host_ctr("pull-image", "--source", missing, "--registry-config", str(config))
    assert done.returncode == 1 and f"registry config {config}: not TOML" in done.stderr


def test_mirrors_from_the_registry_config(host_ctr: HostCtr, registry: Registry, tmp_path: Path) -> None:
    push(registry, "true", repo="mirrored/box")
    config = tmp_path / "host-ctr.toml"
    config.write_text(f'[mirrors."registry.invalid"]\nendpoints = ["http://{registry.host}"]\n')
    done = host_ctr("pull-image", "--source", "registry.invalid/mirrored/box:latest", "--registry-config", str(config))
    assert done.returncode == 0, done.stderr
    assert "registry.invalid/mirrored/box:latest" in host_ctr.daemon.images()


def test_credentials_from_the_registry_config(host_ctr: HostCtr, secure_registry: Registry, tmp_path: Path) -> None:
    image = push(secure_registry, "true")
    assert secure_registry.ca is not None
    trust = {"SSL_CERT_FILE": str(secure_registry.ca)}  # Go's crypto/x509 reads it: the CA for ctr
    # loopback without a scheme is plain HTTP (README): the TLS endpoint is named as a mirror
    mirror = f'[mirrors."{secure_registry.host}"]\nendpoints = ["https://{secure_registry.host}"]\n'
    config = tmp_path / "host-ctr.toml"
    config.write_text(mirror)
    denied = host_ctr("pull-image", "--source", image.tag, "--registry-config", str(config), **trust)
    assert denied.returncode == 1 and image.tag in denied.stderr and "401 Unauthorized" in denied.stderr
    config.write_text(
        f'{mirror}[creds."{secure_registry.host}"]\nusername = "{secure_registry.user}"\n'
        f'password = "{secure_registry.password}"\n'
    )
    done = host_ctr("pull-image", "--source", image.digest, "--registry-config", str(config), **trust)
    assert done.returncode == 0, done.stderr
    assert image.digest in host_ctr.daemon.images()
