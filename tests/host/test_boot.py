"""thar's boot under Debian's real systemd: a host prepared by ``thar-install-units --variant``
boots migrator → storewolf → apiserver → early-boot-config → sundog → settings-applier →
``configured.target``, each unit's result and order read from systemd itself; the API is
socket-activated; the machine is untouched (the guard in conftest)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from thar.sandbox.host import ThrowawayHost

from .conftest import MakeHost

ONESHOTS = [
    "migrator.service",
    "storewolf.service",
    "early-boot-config.service",
    "sundog.service",
    "settings-applier.service",
]
STAMPS = (
    "ActiveState",
    "Result",
    "ExecMainStatus",
    "ExecMainStartTimestampMonotonic",
    "ExecMainExitTimestampMonotonic",
    "ActiveEnterTimestampMonotonic",
    "InactiveExitTimestampMonotonic",
)


@pytest.fixture(scope="module")
def host(make_module_host: MakeHost) -> ThrowawayHost:
    host = make_module_host(user_data='[settings]\nmotd = "from user data"\n')
    host.boot_state = host.boot()  # type: ignore[attr-defined]
    return host


def unit(host: ThrowawayHost, name: str) -> dict[str, str]:
    return host.show(name, *STAMPS)


def test_the_boot_reaches_configured_target_with_every_unit_successful(host: ThrowawayHost) -> None:
    failed = host.systemctl("list-units", "--failed", "--no-legend", "--plain").stdout
    assert "thar" not in failed and not any(u in failed for u in ONESHOTS), failed
    for name in [*ONESHOTS, "apiserver.service", "apiserver.socket", "preconfigured.target", "configured.target"]:
        state = unit(host, name)
        assert state["ActiveState"] == "active", (name, state, host.journal(name)[-2000:])
        assert state.get("Result", "success") == "success", (name, state)
    for name in ONESHOTS:
        assert unit(host, name)["ExecMainStatus"] == "0", name
    assert host.run(["systemctl", "is-active", "multi-user.target"]).stdout.strip() == "active"


def test_systemd_ran_the_units_in_the_boot_order(host: ThrowawayHost) -> None:
    stamps = {name: unit(host, name) for name in [*ONESHOTS, "apiserver.service", "configured.target"]}

    def started(name: str) -> int:
        return int(stamps[name]["ExecMainStartTimestampMonotonic"])

    def finished(name: str) -> int:
        return int(stamps[name]["ExecMainExitTimestampMonotonic"])

    # Each oneshot starts after the one before it exited.
    assert finished("migrator.service") <= started("storewolf.service")
    assert finished("storewolf.service") <= started("apiserver.service")
    # The apiserver is Type=notify: active (READY=1) before early-boot-config starts.
    ready = int(stamps["apiserver.service"]["ActiveEnterTimestampMonotonic"])
    assert started("apiserver.service") < ready <= started("early-boot-config.service")
    assert finished("early-boot-config.service") <= started("sundog.service")
    # sundog's and settings-applier's ExecStartPre (settings-committer) run before their main
    # process: the unit left "inactive" before ExecMainStart.
    assert finished("sundog.service") <= int(stamps["settings-applier.service"]["InactiveExitTimestampMonotonic"])
    assert finished("settings-applier.service") <= int(stamps["configured.target"]["ActiveEnterTimestampMonotonic"])
    chain = host.run(["systemd-analyze", "critical-chain", "--no-pager", "configured.target"]).stdout
    assert "settings-applier.service" in chain and "configured.target" in chain, chain


def test_the_configuration_is_rendered_and_the_user_data_applied(host: ThrowawayHost) -> None:
    assert host.run(["cat", "/etc/motd"]).stdout == "from user data\n"
    settings = json.loads(host.run(["apiclient", "get", "settings.motd", "os.variant_id"]).stdout)
    assert settings["settings"]["motd"] == "from user data"
    assert settings["os"]["variant_id"] == "thar-dev"
    assert host.run(["test", "-e", "/var/lib/bottlerocket/early-boot-config.ran"], check=False).returncode == 0


def test_a_set_renders_the_file_through_the_real_applier(host: ThrowawayHost) -> None:
    host.run(["apiclient", "set", "--wait", "motd=set on a real host"])
    assert host.run(["cat", "/etc/motd"]).stdout == "set on a real host\n"


def test_the_api_socket_starts_the_apiserver_on_connect(host: ThrowawayHost) -> None:
    """Socket activation: with the apiserver stopped, systemd keeps listening on /run/api.sock,
    and a client that connects is served once systemd has started the apiserver for it."""
    host.systemctl("stop", "apiserver.service")
    assert host.run(["systemctl", "is-active", "apiserver.service"], check=False).stdout.strip() == "inactive"
    assert host.run(["systemctl", "is-active", "apiserver.socket"]).stdout.strip() == "active"
    socket = host.run(["stat", "-c", "%a %G %F", "/run/api.sock"]).stdout.split(maxsplit=2)
    assert socket == ["660", "api", "socket\n"]
    answer = json.loads(host.run(["apiclient", "get", "settings.motd"]).stdout)
    assert answer == {"settings": {"motd": "set on a real host"}}
    assert host.run(["systemctl", "is-active", "apiserver.service"]).stdout.strip() == "active"


def test_bad_user_data_stops_the_boot_at_early_boot_config(make_host: MakeHost) -> None:
    """spec/early-boot-config.md: user data the API refuses fails early-boot-config; what
    requires it (sundog, settings-applier, the targets) never runs, and the API stays up so
    that the host can be inspected."""
    host = make_host(user_data='[settings]\nmotd = "fine"\n[settings.no-such-extension]\nkey = 1\n')
    assert host.boot() == "degraded"
    ebc = unit(host, "early-boot-config.service")
    assert (ebc["ActiveState"], ebc["Result"]) == ("failed", "exit-code"), ebc
    assert "no-such-extension" in host.journal("early-boot-config.service")
    for name in ("sundog.service", "settings-applier.service", "preconfigured.target", "configured.target"):
        state = unit(host, name)
        assert state["ActiveState"] == "inactive", (name, state)
        assert state.get("ExecMainStartTimestampMonotonic", "0") == "0", (name, state)
    assert "Dependency failed" in host.journal("settings-applier.service")
    assert unit(host, "apiserver.service")["ActiveState"] == "active"
    assert "fine" not in host.run(["cat", "/etc/motd"], check=False).stdout
    assert json.loads(host.run(["apiclient", "get", "os.variant_id"]).stdout) == {"os": {"variant_id": "thar-dev"}}


def test_the_kubernetes_variant_boots_to_configured_target(make_host: MakeHost) -> None:
    host = make_host(variant="thar-k8s")
    state = host.boot()
    assert state == "running", (state, host.systemctl("list-units", "--failed").stdout)
    assert host.show("configured.target", "ActiveState")["ActiveState"] == "active"
    answer = json.loads(host.run(["apiclient", "get", "os.variant_id", "settings.kubernetes.cluster-domain"]).stdout)
    assert answer["os"]["variant_id"] == "thar-k8s"
    assert answer["settings"]["kubernetes"]["cluster-domain"] == "cluster.local"
    # Rendered by the real applier: the base OCI spec containerd would load (oci_defaults helper).
    assert json.loads(host.run(["cat", "/etc/containerd/cri-base.json"]).stdout)["ociVersion"] == "1.1.0"


def test_dev_host_boots_serves_and_tears_down(host_support: None, tmp_path: Path) -> None:
    """`./dev host` without a terminal: boots, says so, serves until SIGINT, then leaves no
    mount and no process behind."""
    workdir = tmp_path / "dev-host"
    argv = [sys.executable, "-m", "thar.sandbox.host", "--workdir", str(workdir)]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Serving until"):
            break
    if not any("booted (running)" in line for line in lines):
        process.send_signal(signal.SIGINT)  # torn down first: its stderr ends only when it exits
        process.wait(120)
        raise AssertionError((lines, process.stderr and process.stderr.read()))
    assert any("configured.target" in line and " active " in line for line in lines), lines
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0, process.stderr.read() if process.stderr else ""
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(workdir) not in mounts
    assert not (workdir / "root").exists() and not (workdir / "layer").exists()
