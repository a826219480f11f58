"""Host containers in a sandbox: thar-boot runs host-containerd and the host-containers@ units
(real containerd, runc and a local registry from tests/containers.py) when it can, and says in
one line why not when it cannot; the host-containers restart then runs the real host-containers,
whose systemctl is thar-boot's."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers import (
    BUSYBOX,
    CONTAINERD,
    CTR,
    MACHINE_PATHS,
    REGISTRY,
    RUNC,
    PushedImage,
    Registry,
    busybox_image,
    push_image,
    registry,
    require,
)
from tests.units.test_units import parse_unit
from thar.sandbox.host_containers import Tools, install_programs
from thar.sandbox.layout import open_sandbox
from thar.sandbox.services import RESTART_SEC, Supervisor, exec_start, read_env_file

from .conftest import Sandbox, clean_env, served, thar_boot, wait_for

__all__ = ["registry"]

ROOT = Path(__file__).resolve().parents[2]
# The container's program: up until SIGTERM, which it obeys at once.
SCRIPT = "trap 'exit 0' TERM; while true; do sleep 0.2; done"
# host-ctr's knobs for tests: no pull retries, a short SIGTERM grace.
HOST_CTR_ENV = {"HOST_CTR_PULL_RETRIES": "0", "HOST_CTR_STOP_GRACE": "5"}


@pytest.fixture
def short_sandbox() -> Iterator[Sandbox]:
    """A sandbox at a short path: containerd's socket, DIR/run/host-containerd/containerd.sock.ttrpc,
    must fit in a Unix socket address. The machine's containerd paths that did not exist before
    must not exist after."""
    absent = [p for p in MACHINE_PATHS if not p.exists()]
    base = Path(tempfile.mkdtemp(prefix="sbx.", dir="/tmp"))
    try:
        yield Sandbox(base / "s")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert [p for p in absent if p.exists()] == [], "containerd wrote to the machine's paths"


def host_container_user_data(tmp: Path, image: PushedImage) -> Path:
    path = tmp / "user-data.toml"
    path.write_text(
        f'[settings.host-containers.admin]\nenabled = true\nsuperpowered = false\nsource = "{image.tag}"\n',
        encoding="utf-8",
    )
    return path


def ctr(sandbox: Sandbox, *args: str) -> str:
    socket = sandbox.root / "run/host-containerd/containerd.sock"
    done = subprocess.run(
        [CTR, "--address", str(socket), "-n", "default", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def tasks(sandbox: Sandbox) -> dict[str, tuple[int, str]]:
    """The sandbox containerd's tasks: id -> (pid, status)."""
    rows = [line.split() for line in ctr(sandbox, "tasks", "ls").splitlines()[1:]]
    return {row[0]: (int(row[1]), row[2]) for row in rows if len(row) >= 3}


def running(sandbox: Sandbox, name: str) -> int | None:
    """The pid of ``name``'s task when it is RUNNING."""
    pid, status = tasks(sandbox).get(name, (0, ""))
    return pid if status == "RUNNING" else None


def processes_of(root: Path) -> list[str]:
    """Every process whose command line or working directory is in the sandbox (containerd,
    its shims, host-ctr, ctr)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(root) in cmdline or cwd.startswith(str(root)):
            found.append(f"{proc.name}: {cmdline}")
    return found


def mounts_under(root: Path) -> list[str]:
    text = Path("/proc/self/mountinfo").read_text()
    return [line for line in text.splitlines() if str(root) in line]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def journal(sandbox: Sandbox) -> str:
    path = sandbox.root / "run/thar/host-containers.log"
    return path.read_text() if path.exists() else ""


def image(registry: Registry) -> PushedImage:
    return push_image(registry, "thar/admin", "v1", busybox_image(cmd=["/bin/sh", "-c", SCRIPT]))


def needs_containers() -> None:
    require(CONTAINERD, CTR, RUNC, "/usr/bin/containerd-shim-runc-v2", REGISTRY, BUSYBOX, "/usr/bin/unshare")


# -- with containerd --------------------------------------------------------------------------------


def test_an_enabled_host_container_runs_is_stopped_through_the_api_and_nothing_is_left(
    short_sandbox: Sandbox, registry: Registry, tmp_path: Path
) -> None:
    needs_containers()
    sandbox = short_sandbox
    user_data = host_container_user_data(tmp_path, image(registry))
    with served(sandbox, "--user-data", str(user_data), env=HOST_CTR_ENV) as boot:
        assert "host containers: run by thar-boot" in boot.stdout
        wait_for(lambda: running(sandbox, "admin") is not None, "the admin container's task", timeout=90)
        container_pid = running(sandbox, "admin")
        env_file = read_env_file(sandbox.root / "etc/host-containers/admin.env")
        assert env_file["CTR_SOURCE"].endswith("/thar/admin:v1") and env_file["CTR_SUPERPOWERED"] == "false"
        assert "host-containers@admin.service: started" in journal(sandbox)
        daemons = processes_of(sandbox.root)
        assert any("containerd --config" in p for p in daemons) and any(
            "thar.host_ctr" in p or "host-ctr" in p for p in daemons
        )

        subprocess.run(
            ["apiclient", "--socket-path", str(sandbox.socket), "set", "host-containers.admin.enabled=false"],
            check=True, env=clean_env(), timeout=60,
        )  # fmt: skip
        wait_for(lambda: "host-containers@admin.service: stopped" in journal(sandbox), "the unit to stop", timeout=60)
        assert "admin" not in tasks(sandbox)
        assert container_pid is not None and not alive(container_pid)
        # the restart is recorded too, as the sandbox records every restart
        assert any(line.split()[1:2] == ["host-containers"] for line in sandbox.restarts())

        subprocess.run(
            ["apiclient", "--socket-path", str(sandbox.socket), "set", "host-containers.admin.enabled=true"],
            check=True, env=clean_env(), timeout=60,
        )  # fmt: skip
        wait_for(lambda: running(sandbox, "admin") is not None, "the admin container to run again", timeout=90)
        daemons = processes_of(sandbox.root)
        container_pid = running(sandbox, "admin")
    # thar-boot stopped (SIGINT): its host-ctr stopped the task, then containerd stopped.
    assert processes_of(sandbox.root) == [], daemons
    assert container_pid is not None and not alive(container_pid)
    assert mounts_under(sandbox.root) == []
    assert not (sandbox.root / "run/thar/systemctl.sock").exists()
    assert "host-containerd.service: stopped" in journal(sandbox)


def test_a_host_container_whose_process_exits_is_started_again(
    short_sandbox: Sandbox, registry: Registry, tmp_path: Path
) -> None:
    needs_containers()
    sandbox = short_sandbox
    user_data = host_container_user_data(tmp_path, image(registry))
    with served(sandbox, "--user-data", str(user_data), env=HOST_CTR_ENV, stop=signal.SIGTERM):
        wait_for(lambda: running(sandbox, "admin") is not None, "the admin container's task", timeout=90)
        first = running(sandbox, "admin")
        ctr(sandbox, "tasks", "kill", "--signal", "SIGKILL", "admin")
        wait_for(
            lambda: running(sandbox, "admin") not in (None, first), "the admin container to be restarted", timeout=60
        )
        assert f"Restart=always: started again in {RESTART_SEC:g} s" in journal(sandbox)
        assert journal(sandbox).count("host-containers@admin.service: started") == 2
    assert processes_of(sandbox.root) == []


def test_a_boot_with_no_serve_stops_its_host_containers_and_containerd(
    short_sandbox: Sandbox, registry: Registry, tmp_path: Path
) -> None:
    needs_containers()
    sandbox = short_sandbox
    user_data = host_container_user_data(tmp_path, image(registry))
    result = thar_boot(sandbox, "--host-containers", "on", user_data=user_data, env=HOST_CTR_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "host containers: run by thar-boot" in result.stdout
    assert "host-containers@admin.service: started" in journal(sandbox)
    assert processes_of(sandbox.root) == []
    assert mounts_under(sandbox.root) == []


# -- without containerd -----------------------------------------------------------------------------


def test_without_containerd_the_boot_says_why_in_one_line_and_only_records(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox")
    missing = str(tmp_path / "no-containerd")
    result = thar_boot(sandbox, env={"THAR_BOOT_CONTAINERD": missing})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("host containers:")]
    assert len(lines) == 1
    reason = f"THAR_BOOT_CONTAINERD={missing} is not an executable file" if os.geteuid() == 0 else "needs root"
    assert lines[0].startswith("host containers: not run: ") and reason in lines[0]
    assert any(line.split()[1:2] == ["host-containers"] for line in sandbox.restarts())
    assert not (sandbox.root / "etc/host-containers/admin.env").exists(), "host-containers ran"
    assert not (sandbox.root / "run/thar/bin").exists()


def test_host_containers_on_where_they_cannot_run_is_exit_2_with_the_reason(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox")
    result = thar_boot(sandbox, "--host-containers", "on", env={"THAR_BOOT_CONTAINERD": str(tmp_path / "nowhere")})
    assert result.returncode == 2
    assert "--host-containers on: " in result.stderr
    assert ("is not an executable file" if os.geteuid() == 0 else "containerd needs root") in result.stderr
    assert not sandbox.live.exists(), "it booted"


def test_host_containers_off_only_records(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox")
    result = thar_boot(sandbox, "--host-containers", "off")
    assert result.returncode == 0, result.stderr
    assert "host containers: not run: --host-containers off" in result.stdout
    assert any(line.split()[1:2] == ["host-containers"] for line in sandbox.restarts())


def test_a_variant_whose_restarts_are_a_real_hosts_says_so(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox")
    result = thar_boot(sandbox, "--variant", "thar-k8s")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("host containers:"))
    assert "not run: the variant thar-k8s has no 'thar-record-restart host-containers' restart command" in line


# -- the pieces -------------------------------------------------------------------------------------


def test_the_units_exec_start_is_what_the_sandbox_runs(tmp_path: Path) -> None:
    """host-containers@.service's ExecStart, %i and ${VAR} expanded, with the sandbox's host-ctr
    and paths below its root."""
    unit = parse_unit(ROOT / "units/host-containers@.service")
    env = {"CTR_SOURCE": "127.0.0.1:5000/thar/admin:v1", "CTR_SUPERPOWERED": "true"}
    (exec_line,) = unit.sections["Service"]["ExecStart"]
    expected = [
        word.replace("%i", "admin").replace("${CTR_SOURCE}", env["CTR_SOURCE"])
        .replace("${CTR_SUPERPOWERED}", env["CTR_SUPERPOWERED"]).replace("=/etc/", f"={tmp_path}/etc/")
        for word in shlex.split(exec_line)
    ]  # fmt: skip
    sandbox = open_sandbox(tmp_path, None)
    argv = exec_start(sandbox, "admin", env)
    host_ctr = argv.index("run")
    assert argv[host_ctr:] == expected[1:]
    assert argv[:host_ctr][-1] in ("thar.host_ctr",) or Path(argv[0]).name == "host-ctr"


def test_environment_files_are_read_as_systemd_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_text("# comment\n; also\n\nA=1\nB=\"two words\"\nC='x'\nD=\n  E = spaced \nnot a pair\n")
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "x", "D": "", "E": "spaced"}


def test_the_systemctl_stand_in_answers_the_verbs_host_containers_uses(tmp_path: Path) -> None:
    """The stand-in thar-boot installs, over its socket, on a supervisor whose containerd cannot start."""
    sandbox = open_sandbox(tmp_path / "s", None)
    sandbox.run_dir.mkdir(parents=True)
    failing = tmp_path / "containerd"
    failing.write_text("#!/bin/sh\necho no containerd here >&2\nexit 1\n")
    failing.chmod(0o755)
    install_programs(sandbox)
    reports: list[str] = []
    supervisor = Supervisor(sandbox, Tools(str(failing), "/bin/false", "unshare"), clean_env(), report=reports.append)
    supervisor.start()

    def systemctl(*args: str) -> tuple[int, str, str]:
        done = subprocess.run([str(sandbox.systemctl), *args], capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr

    try:
        assert systemctl("is-active", "configured.target") == (3, "inactive\n", "")
        supervisor.configured = True
        assert systemctl("is-active", "configured.target") == (0, "active\n", "")
        assert systemctl("is-active", "host-containerd.service") == (3, "inactive\n", "")
        unit = "host-containers@admin.service"
        assert systemctl("stop", unit) == (0, "", "")  # nothing to stop
        assert systemctl("enable", unit, "--no-reload", "--no-block") == (0, "", "")
        assert systemctl("disable", unit, "--no-reload", "--no-block") == (0, "", "")
        assert systemctl("is-active", unit) == (3, "inactive\n", "")
        code, _, err = systemctl("start", unit)  # waits for the start, which needs containerd
        assert code == 1 and f"Job for {unit} failed: host-containerd.service is not running" in err
        assert systemctl("is-active", "--quiet", unit) == (3, "", "")  # activating: Restart=always
        assert systemctl("is-active", "host-containerd.service")[1] == "failed\n"
        assert systemctl("stop", unit) == (0, "", "")
        assert systemctl("is-active", unit) == (3, "inactive\n", "")
        assert len([r for r in reports if "host-containerd.service failed" in r]) == 1
        assert systemctl("frob", unit)[0] == 1 and "does not do 'frob'" in systemctl("frob", unit)[2]
        assert systemctl("start", unit, "--force")[0] == 1
        assert systemctl("start", "nope.service") == (
            5,
            "",
            "Failed to start nope.service: Unit nope.service not found.\n",
        )
    finally:
        supervisor.stop()
    code, _, err = systemctl("is-active", "configured.target")
    assert code == 1 and "no thar-boot runs host containers here" in err
