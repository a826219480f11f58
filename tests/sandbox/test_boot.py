"""The whole sandbox boot, end to end: ``thar-boot`` runs storewolf, the apiserver,
early-boot-config, settings-committer, sundog, settings-committer and ``thar-be-settings --all``
as real processes on a sandbox directory; the results are read from the rendered files, the
datastore's files, and the API of a served boot."""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from thar.sandbox.steps import BOOT_STEPS

from .conftest import THAR_BOOT, USER_DATA, Sandbox, clean_env, served, thar_boot, wait_for

STEP_NAMES = [step.name for step in BOOT_STEPS]


# -- the first boot ---------------------------------------------------------------------------------


def test_first_boot_runs_every_step_in_order_and_prints_the_timeline(first_boot: tuple[Sandbox, str]) -> None:
    sandbox, stdout = first_boot
    assert [(name, status) for name, _, status in sandbox.step_statuses()] == [
        ("prepare", "ok"),
        *[(name, "ok") for name in STEP_NAMES],
    ]
    assert sandbox.timeline()["first_boot"] is True
    printed = stdout.splitlines()
    assert "thar-dev first boot" in printed[0]
    for name in ["prepare", *STEP_NAMES, "total"]:
        assert any(line.strip().startswith(name) and " ms" in line for line in printed), name


def test_user_data_settings_are_live_after_the_boot(first_boot: tuple[Sandbox, str]) -> None:
    sandbox, _ = first_boot
    assert sandbox.live_value("settings", "motd") == "Hello from user data"
    assert sandbox.live_value("settings", "ntp", "time-servers") == ["time.user-data.example"]
    assert sandbox.live_value("settings", "kernel", "sysctl", "vm.max_map_count") == "262144"
    # User data merges into the defaults key by key: the variant's other sysctls stay.
    assert sandbox.live_value("settings", "kernel", "sysctl", "net.ipv4.ip_forward") == "1"
    assert not sandbox.launch.exists() or not any(sandbox.launch.rglob("*")), "something left uncommitted"


def test_generated_settings_are_filled(first_boot: tuple[Sandbox, str]) -> None:
    sandbox, _ = first_boot
    hostname = sandbox.live_value("settings", "network", "hostname")
    assert isinstance(hostname, str) and hostname
    seed = sandbox.live_value("settings", "updates", "seed")
    assert isinstance(seed, int) and 0 <= seed <= 2047
    url = sandbox.live_value("settings", "updates", "metadata-base-url")
    assert isinstance(url, str) and "/thar-dev/" in url and "{{" not in url


def test_configuration_files_are_rendered_under_the_sandbox_etc(first_boot: tuple[Sandbox, str]) -> None:
    sandbox, _ = first_boot
    assert "Hello from user data" in sandbox.etc("motd")
    chrony = sandbox.etc("chrony.conf")
    assert "time.user-data.example" in chrony and "pool.ntp.org" not in chrony
    sysctl = sandbox.etc("sysctl.d/90-thar.conf")
    assert "vm.max_map_count" in sysctl and "262144" in sysctl and "net.ipv4.ip_forward" in sysctl
    hostname = sandbox.live_value("settings", "network", "hostname")
    assert hostname in sandbox.etc("hostname")


def test_the_first_boot_marks_user_data_applied_and_records_the_restarts(first_boot: tuple[Sandbox, str]) -> None:
    sandbox, _ = first_boot
    assert sandbox.marker.exists()
    services = {line.split()[1] for line in sandbox.restarts()}
    assert {"chronyd", "sysctl", "hostname"} <= services
    assert (sandbox.root / "usr/lib/os-release").read_text().count("VARIANT_ID=thar-dev") == 1


# -- the next boots ---------------------------------------------------------------------------------


def test_a_second_boot_keeps_api_changes_and_does_not_reapply_user_data(
    first_boot: tuple[Sandbox, str], tmp_path: Path
) -> None:
    sandbox = first_boot[0].copy(tmp_path / "sandbox")
    seed = sandbox.live_value("settings", "updates", "seed")
    other_user_data = tmp_path / "other.toml"
    other_user_data.write_text('[settings]\nmotd = "from other user data"\n', encoding="utf-8")

    with served(sandbox, "--user-data", str(other_user_data)) as boot:
        assert "early-boot-config" in boot.stdout and "SKIPPED" in boot.stdout
        settings = sandbox.api("/settings")
        assert settings["motd"] == "Hello from user data"
        assert settings["updates"]["seed"] == seed  # generated once, not again
        # A change through the API, as `apiclient set` makes it: committed and applied.
        subprocess.run(
            ["apiclient", "--socket-path", str(sandbox.socket), "set", "motd=changed through the API"],
            check=True,
            env=clean_env(),
            timeout=60,
        )
        wait_for(lambda: "changed through the API" in sandbox.etc("motd"), "the applier to render etc/motd")
        # The sandbox is in use: a second thar-boot on it is refused.
        again = thar_boot(sandbox)
        assert again.returncode == 1 and "Another thar-boot is using" in again.stderr

    result = thar_boot(sandbox)
    assert result.returncode == 0, result.stderr
    statuses = {name: status for name, unit, status in sandbox.step_statuses() if name == "early-boot-config"}
    assert statuses == {"early-boot-config": "skipped"}
    assert sandbox.timeline()["first_boot"] is False
    assert sandbox.live_value("settings", "motd") == "changed through the API"
    assert "changed through the API" in sandbox.etc("motd")
    assert sandbox.live_value("settings", "updates", "seed") == seed
    assert "time.user-data.example" in sandbox.etc("chrony.conf")


def test_serving_stops_the_apiserver_on_sigterm(first_boot: tuple[Sandbox, str], tmp_path: Path) -> None:
    sandbox = first_boot[0].copy(tmp_path / "sandbox")
    with served(sandbox, stop=signal.SIGTERM):
        pid = int((sandbox.root / "run/thar/apiserver.pid").read_text())
        assert sandbox.api("/settings?keys=settings.motd") == {"motd": "Hello from user data"}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not (sandbox.root / "run/thar/apiserver.pid").exists()


# -- user data --------------------------------------------------------------------------------------


def test_gzip_user_data_is_applied(tmp_path: Path) -> None:
    user_data = tmp_path / "user-data.toml.gz"
    user_data.write_bytes(gzip.compress(USER_DATA.replace("Hello from", "Gzipped").encode()))
    sandbox = Sandbox(tmp_path / "sandbox")
    result = thar_boot(sandbox, user_data=user_data)
    assert result.returncode == 0, result.stderr
    assert sandbox.live_value("settings", "motd") == "Gzipped user data"
    assert "Gzipped user data" in sandbox.etc("motd")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param('[settings]\nmotd = "unterminated\n', "line 2", id="toml-syntax"),
        pytest.param('[settings]\nmotd = "fine"\n[settings.ntp]\ntime-servers = 42\n', "settings.ntp", id="model"),
        pytest.param('motd = "no settings table"\n', "settings", id="no-settings"),
    ],
)
def test_invalid_user_data_stops_the_boot_with_a_clear_error_and_applies_nothing(
    tmp_path: Path, text: str, named: str
) -> None:
    user_data = tmp_path / "user-data.toml"
    user_data.write_text(text, encoding="utf-8")
    sandbox = Sandbox(tmp_path / "sandbox")
    result = thar_boot(sandbox, user_data=user_data)
    assert result.returncode == 1
    assert "step 'early-boot-config' (early-boot-config.service) failed" in result.stderr
    assert named in result.stderr
    # The boot stopped at early-boot-config: nothing after it ran.
    assert sandbox.step_statuses()[-1] == ("early-boot-config", "early-boot-config.service", "failed")
    # Nothing applied: nothing committed, nothing rendered, the user data not staged, no marker.
    assert not sandbox.live.joinpath("settings", "motd").exists()
    assert sandbox.stored(sandbox.launch, "settings", "motd") not in ("fine", None)
    assert not (sandbox.root / "etc/motd").exists()
    assert not sandbox.marker.exists()


def test_a_boot_after_invalid_user_data_applies_the_corrected_user_data(tmp_path: Path) -> None:
    user_data = tmp_path / "user-data.toml"
    user_data.write_text('[settings]\nmotd = ["not", "a", "string"]\n', encoding="utf-8")
    sandbox = Sandbox(tmp_path / "sandbox")
    assert thar_boot(sandbox, user_data=user_data).returncode == 1
    user_data.write_text('[settings]\nmotd = "corrected"\n', encoding="utf-8")
    result = thar_boot(sandbox, user_data=user_data)
    assert result.returncode == 0, result.stderr
    assert "corrected" in sandbox.etc("motd")
    assert sandbox.marker.exists()


# -- the command line -------------------------------------------------------------------------------


def test_a_sandbox_keeps_its_variant(first_boot: tuple[Sandbox, str]) -> None:
    sandbox, _ = first_boot
    result = thar_boot(sandbox, "--variant", "thar-k8s")
    assert result.returncode == 2
    assert "was booted as 'thar-dev'" in result.stderr and "cannot boot 'thar-k8s'" in result.stderr


def test_unknown_variant_and_missing_user_data_are_usage_errors(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox")
    unknown = thar_boot(sandbox, "--variant", "no-such-variant")
    assert unknown.returncode == 2 and "Unknown variant 'no-such-variant'" in unknown.stderr
    missing = thar_boot(sandbox, user_data=tmp_path / "missing.toml")
    assert missing.returncode == 2 and "missing.toml: no such file" in missing.stderr
    assert not (tmp_path / "sandbox/var").exists()


# -- thar-k8s ---------------------------------------------------------------------------------------


def test_a_k8s_sandbox_renders_its_files_and_never_runs_the_hosts_restart_commands(tmp_path: Path) -> None:
    """thar-k8s's restart commands are a real host's (systemctl): the sandbox renders every file
    and restarts nothing, at boot and after a change through the API."""
    sandbox = Sandbox(tmp_path / "sandbox")
    with served(sandbox, "--variant", "thar-k8s") as boot:
        assert "restarts not run" in boot.stdout
        assert (sandbox.root / "etc/kubernetes/kubelet/config").is_file()
        assert "Welcome to thar" in sandbox.etc("motd")
        subprocess.run(
            ["apiclient", "--socket-path", str(sandbox.socket), "set", "motd=k8s sandbox"],
            check=True,
            env=clean_env(),
            timeout=60,
        )
        wait_for(lambda: "k8s sandbox" in sandbox.etc("motd"), "the applier to render etc/motd")
    assert sandbox.timeline()["variant"] == "thar-k8s"
    assert isinstance(sandbox.live_value("settings", "network", "hostname"), str)
    assert sandbox.restarts() == []


def test_a_root_too_long_for_a_unix_socket_is_refused_before_anything_runs(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / ("x" * 100) / "sandbox")
    result = thar_boot(sandbox)
    assert result.returncode == 1
    assert "more than the 107 a Unix socket allows: use a shorter --root" in result.stderr
    assert not (sandbox.root / "var/lib/bottlerocket/datastore").exists()


def processes_under(root: Path) -> list[str]:
    """Command lines of live processes that name the sandbox (thar-boot's children do)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(root) in cmdline:
                found.append(cmdline)
    return found


def test_sigterm_during_the_boot_stops_it_and_leaves_no_process_behind(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox")
    proc = subprocess.Popen(
        [*THAR_BOOT, "--root", str(sandbox.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env()
    )
    log = sandbox.root / "run/thar/boot.log"
    wait_for(lambda: log.exists() and "==> storewolf" in log.read_text(), "storewolf to start")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"interrupted by SIGTERM; boot stopped" in err
    assert processes_under(sandbox.root) == []
    assert not (sandbox.root / "etc/motd").exists()


def test_sigterm_at_any_moment_leaves_no_process_behind(tmp_path: Path) -> None:
    """Wherever in the boot (or the serving after it) SIGTERM lands, thar-boot ends and no step's
    process, held or running, nor the apiserver, outlives it. 32 boots, 8 at a time (the load
    widens the windows between starting a process and recording it), each signalled after a
    delay drawn over the whole boot."""
    delays = random.Random(2754).sample([i / 100 for i in range(2, 100)], 32)

    def boot_and_signal(index: int) -> tuple[int, str, list[str]]:
        sandbox = Sandbox(tmp_path / f"s{index:02d}")  # no root a prefix of another
        proc = subprocess.Popen(
            [*THAR_BOOT, "--root", str(sandbox.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env()
        )
        time.sleep(delays[index])
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err.decode(errors="replace"), processes_under(sandbox.root)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(boot_and_signal, range(len(delays))))
    for delay, (code, err, left) in zip(delays, outcomes, strict=True):
        # Interrupted (143), served then stopped (0), or signalled before thar-boot took SIGTERM over (-15).
        assert code in (128 + signal.SIGTERM, 0, -signal.SIGTERM), (delay, err)
        assert left == [], (delay, err)
