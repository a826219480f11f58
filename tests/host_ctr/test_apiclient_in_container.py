"""thar's apiclient inside a host container: host-ctr runs a container on a real containerd (image
from a real registry) that calls the real apiserver of a booted sandbox through the mounted
``/run/api.sock``, with the apiclient zipapp and the Python host-ctr binds.

Two host Pythons run host-ctr: this suite's (a virtualenv on a Python with a shared libpython, its
prefix bound at its own path) and the system's ``/usr/bin/python3`` (prefix ``/usr``, relocated
below ``/.bottlerocket/python``). The images hold busybox and the host's C library only: no
Python of their own."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.conftest import ServerProcess
from tests.containers import (
    REQUIRED,
    Containerd,
    Registry,
    glibc_image,
    host_ctr_command,
    push_image,
    shared_libraries,
)

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
SOCKET_GID = 4400  # the socket's group, as Bottlerocket's api group: the reader container's gid
READER_UID = 4202
STORAGE = "/.bottlerocket/host-containers/current"

# Each command's stdout, stderr and exit status, kept in the container's persistent storage.
RUN = f'run() {{ n=$1; shift; "$@" > {STORAGE}/$n.out 2> {STORAGE}/$n.err; echo $? > {STORAGE}/$n.rc; }}; '


def python_for(which: str) -> Path:
    if which == "venv":
        return Path(sys.executable)
    done = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info >= (3, 11))"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.stdout.strip() != "True":
        why = f"needs {SYSTEM_PYTHON} 3.11 or newer (Debian: python3)"
        if REQUIRED:
            pytest.fail(f"{why} (THAR_HOST_TESTS=required)")
        pytest.skip(why)
    return SYSTEM_PYTHON


def expected_interpreter(python: Path) -> str:
    """A Python that does not link libpython is relocated below /.bottlerocket/python; one that
    does is bound at its prefix, unless that is a system prefix (then the image needs its own
    Python, which these images do not have)."""
    done = subprocess.run(
        [str(python), "-c", "import sys; print(sys._base_executable); print(sys.base_prefix)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    executable, prefix = (Path(line) for line in done.stdout.splitlines())
    executable = executable.resolve()
    if not any(lib.name.startswith("libpython") for lib in shared_libraries(executable)):
        return f"/.bottlerocket/python/bin/{executable.name} -IS"
    if prefix not in (Path("/"), Path("/usr"), Path("/usr/local")):
        return f"{executable} -IS"
    pytest.skip(f"{python} links a shared libpython below {prefix}: host-ctr leaves Python to the image")


@dataclass
class Apiserver(ServerProcess):
    """The apiserver of a booted sandbox on ``ROOT/run/api.sock`` (group SOCKET_GID), with
    ``--policy`` when given; the applier is the tests' recording stub."""

    root: Path = Path()
    policy: Path | None = None

    @property
    def socket_path(self) -> Path:
        return self.root / "run/api.sock"

    @property
    def os_release(self) -> Path:
        return self.root / "usr/lib/os-release"

    def command(self) -> list[str]:
        extra = ["--policy", str(self.policy)] if self.policy else []
        return [*super().command(), "--socket-gid", str(SOCKET_GID), *extra]

    def settings(self) -> dict[str, object]:
        answer = self.client().get("/settings")
        assert answer.status == 200, answer.text
        settings: dict[str, object] = json.loads(answer.text)
        return settings


@dataclass
class Host:
    root: Path
    daemon: Containerd
    registry: Registry
    python: Path
    pythonpath: str
    shebang: str  # the interpreter the container's apiclient must name, from ldd and the prefix

    def storage(self, name: str, owner: int = 0) -> Path:
        path = self.root / "local/host-containers" / name
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, owner, SOCKET_GID)
        return path

    def run(self, name: str, script: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
        """``host-ctr run --container-id NAME`` of a glibc image running ``script`` as ``user``."""
        image = glibc_image(self.python, cmd=["/bin/sh", "-c", RUN + script], user=user)
        pushed = push_image(self.registry, f"thar/{name}", "latest", image)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(THAR_ROOT=str(self.root), PYTHONPATH=self.pythonpath, HOST_CTR_PULL_RETRIES="0")
        return subprocess.run(
            host_ctr_command(self.daemon, "run", "--container-id", name, "--source", pushed.tag, python=self.python),
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip


def result(storage: Path, name: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the container's ``run NAME ...``."""
    return (
        int((storage / f"{name}.rc").read_text()),
        (storage / f"{name}.out").read_text(),
        (storage / f"{name}.err").read_text(),
    )


def boot(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("THAR_ROOT", "NOTIFY_SOCKET")}
    env.update(PYTHONPATH=str(REPO), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    done = subprocess.run(
        [sys.executable, "-m", "thar.sandbox", "--root", str(root), "--no-serve"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def booted() -> Iterator[Path]:
    """A sandbox root booted once by thar-boot (storewolf's datastore) below a short path (AF_UNIX
    paths are short), never changed: each test gets a copy of it, as a booted host's disk."""
    base = Path(tempfile.mkdtemp(prefix="thar-ctr-"))
    try:
        boot(base / "r")
        yield base / "r"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["venv", "system"])
def host(
    request: pytest.FixtureRequest, booted: Path, containerd: Containerd, registry: Registry, tmp_path: Path
) -> Iterator[Host]:
    """A copy of the booted sandbox below a short root, for host-ctr run by the Python the
    parameter names."""
    python = python_for(request.param)
    base = Path(tempfile.mkdtemp(prefix="thar-ctr-"))  # AF_UNIX paths are short
    root = base / "r"
    try:
        shutil.copytree(booted, root, symlinks=True, ignore=shutil.ignore_patterns("api.sock", "boot.lock"))
        pythonpath = str(REPO)
        if python == SYSTEM_PYTHON:  # host-ctr's registry config reads TOML with the toml package
            spec = importlib.util.find_spec("toml")
            assert spec is not None and spec.submodule_search_locations
            shutil.copytree(next(iter(spec.submodule_search_locations)), tmp_path / "pylib/toml")
            pythonpath += f"{os.pathsep}{tmp_path / 'pylib'}"
        yield Host(root, containerd, registry, python, pythonpath, expected_interpreter(python))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def serve(host: Host, tmp_path: Path, policy: str | None = None) -> Apiserver:
    policy_file = None
    if policy is not None:
        policy_file = tmp_path / "policy.toml"
        policy_file.write_text(policy)
    server = Apiserver(
        base=host.root / "var/lib/bottlerocket/datastore/current",
        workdir=tmp_path / "apiserver",
        variant="thar-dev",
        root=host.root,
        policy=policy_file,
    )
    server.start()
    return server


@pytest.fixture
def open_api(host: Host, tmp_path: Path) -> Iterator[Apiserver]:
    server = serve(host, tmp_path)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


POLICY = f"""
default = "none"

[[rule]]
name = "root"
uids = [0]
role = "admin"

[[rule]]
name = "container-readers"
uids = [{READER_UID}]
role = "reader"
"""


@pytest.fixture
def policy_api(host: Host, tmp_path: Path) -> Iterator[Apiserver]:
    server = serve(host, tmp_path, POLICY)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def test_a_host_container_gets_sets_and_applies_through_the_socket(host: Host, open_api: Apiserver) -> None:
    storage = host.storage("control")
    (storage / "ntp.toml").write_text('[settings.ntp]\ntime-servers = ["ntp.container.example"]\n')
    (storage / "sysctl.toml").write_text('[settings.kernel.sysctl]\n"vm.max_map_count" = "262144"\n')  # for stdin
    script = (
        "run get apiclient get settings.motd; "
        "run set apiclient set motd='set in a container'; "
        f"run apply apiclient apply {STORAGE}/ntp.toml; "
        f"run stdin sh -c 'cat {STORAGE}/sysctl.toml | apiclient apply'; "
        "run shebang head -n 1 /usr/local/bin/apiclient; "
        "test -e /usr/bin/python3 || echo none > " + STORAGE + "/own-python"
    )
    done = host.run("control", script)
    assert done.returncode == 0, done.stdout + done.stderr
    status, out, err = result(storage, "get")
    assert (status, json.loads(out) if out else err) == (0, {"settings": {"motd": "Welcome to thar!"}})
    for name in ("set", "apply", "stdin"):
        assert result(storage, name) == (0, "", ""), name
    settings: Any = open_api.settings()
    assert settings["motd"] == "set in a container"
    assert settings["ntp"]["time-servers"] == ["ntp.container.example"]
    assert settings["kernel"]["sysctl"]["vm.max_map_count"] == "262144"
    # three commits, each applied, the journal naming the container's process (root) as the caller
    changed = [["settings.motd"], ["settings.ntp.time-servers"], ['settings.kernel.sysctl."vm.max_map_count"']]
    history = json.loads(open_api.client().get("/tx/history?limit=3").text)[::-1]
    assert [(e["transaction"].rsplit("-", 1)[0], e["keys"], e["caller"]["uid"]) for e in history] == [
        ("apiclient-set", changed[0], 0),
        ("apiclient-apply", changed[1], 0),
        ("apiclient-apply", changed[2], 0),
    ]
    assert [json.loads(c.stdin or "null") for c in open_api.applier_calls()] == changed
    # no Python of the image's: the host's ran it, bound where host-ctr says
    assert (storage / "own-python").read_text() == "none\n"
    assert result(storage, "shebang")[1] == f"#!{host.shebang}\n"
    assert "control" not in host.daemon.containers()


def test_the_policy_gives_the_container_uid_its_role(host: Host, policy_api: Apiserver) -> None:
    storage = host.storage("control", owner=READER_UID)
    script = "run id id -u; run get apiclient get settings.motd; run set apiclient set motd='from a reader'"
    done = host.run("control", script, user=f"{READER_UID}:{SOCKET_GID}")
    assert done.returncode == 0, done.stdout + done.stderr
    # no user namespace: the container's uid is the host's, and the server sees it (SO_PEERCRED)
    assert result(storage, "id")[1] == f"{READER_UID}\n"
    status, out, err = result(storage, "get")
    assert (status, json.loads(out) if out else err) == (0, {"settings": {"motd": "Welcome to thar!"}})
    status, out, err = result(storage, "set")
    assert (status, out) == (1, "")
    assert err.startswith(
        f"Forbidden: uid {READER_UID}, gid {SOCKET_GID}, role 'reader' by rule 'container-readers' of "
        f"{policy_api.policy}: may not PATCH /settings/keypair (Failed to change settings: Failed PATCH request to "
    ), err
    assert err.endswith("status 403)\n") and err.count("\n") == 1, err  # the refusal alone, no warning
    assert policy_api.settings()["motd"] == "Welcome to thar!"
    # root in a container is root on the host: the admin rule
    admin = host.storage("admin")
    done = host.run("admin", "run set apiclient set motd='from root'; run get apiclient get settings.motd")
    assert done.returncode == 0, done.stdout + done.stderr
    assert result(admin, "set") == (0, "", "")
    assert json.loads(result(admin, "get")[1]) == {"settings": {"motd": "from root"}}
    assert policy_api.settings()["motd"] == "from root"
