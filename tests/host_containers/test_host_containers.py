"""host-containers against the real apiserver, with ``systemctl`` and host-ctr recorded by
``systemctl_standin.py``: the files it writes, and the unit verbs it runs, for each container
a change concerns (Bottlerocket's ``sources/api/host-containers/src/main.rs``)."""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.early_boot_config.sandbox import MakeSandbox, Sandbox
from thar.host_containers.errors import UserDataInvalid
from thar.host_containers.manage import env_file_text, is_container_affected, parse_host_containers, write_storage

STANDIN = Path(__file__).with_name("systemctl_standin.py")
ADMIN = "127.0.0.1:5000/thar/admin:v1"
CONTROL = "127.0.0.1:5000/thar/control:v2"


def live(name: str, **fields: Any) -> dict[str, Any]:
    return {f"settings.host-containers.{name}.{key.replace('_', '-')}": value for key, value in fields.items()}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    calls: list[list[str]]


def host_containers(
    sandbox: Sandbox,
    tmp_path: Path,
    *,
    active: str = "configured.target host-containerd.service",
    changed: str | None = None,
    fail: str = "",
) -> Run:
    log = tmp_path / "calls.jsonl"
    log.unlink(missing_ok=True)
    log.touch()
    env = {
        "HOST_CONTAINERS_SYSTEMCTL": shlex.join([sys.executable, str(STANDIN)]),
        "HOST_CONTAINERS_HOST_CTR": shlex.join([sys.executable, str(STANDIN), "host-ctr"]),
        "STANDIN_LOG": str(log),
        "STANDIN_ACTIVE": active,
        "STANDIN_FAIL": fail,
        "STANDIN_STATE": "",
    }
    if changed is not None:
        env["CHANGED_SETTINGS"] = changed
    done = sandbox.run("thar.host_containers", env=env)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return Run(done.returncode, done.stdout, done.stderr, calls)


def unit_calls(name: str, booted: bool, enabled: bool, containerd: bool = True) -> list[list[str]]:
    """What Bottlerocket's host-containers runs for one container."""
    unit = f"host-containers@{name}.service"
    calls = [["stop", unit], ["is-active", "host-containerd.service"]]
    if containerd:
        calls.append(["host-ctr", "clean-up", "--container-id", name])
    calls.append(["is-active", "configured.target"])
    verb = "enable" if enabled else "disable"
    if booted:
        calls.append([verb, unit, "--now", "--no-block"])
    else:
        calls.append([verb, unit, "--no-reload", "--no-block"])
        if enabled:
            calls.append(["start", unit, "--no-block"])
    return calls


@pytest.fixture
def two(make_sandbox: MakeSandbox) -> Sandbox:
    """admin (enabled, superpowered) and control (disabled) are live."""
    return make_sandbox(
        live={
            **live("admin", source=ADMIN, enabled=True, superpowered=True),
            **live("control", source=CONTROL, enabled=False),
        }
    )


def test_each_container_gets_bottlerockets_environment_file(two: Sandbox, tmp_path: Path) -> None:
    run = host_containers(two, tmp_path)
    assert run.code == 0, run.stderr
    env = two.root / "etc/host-containers"
    assert (env / "admin.env").read_text() == (
        "CTR_SUPERPOWERED=true\n"
        f"CTR_SOURCE={ADMIN}\n"
        "\n"
        "# Just for reference; service is enabled or disabled by host-containers service\n"
        "# CTR_ENABLED=true\n"
    )
    assert (env / "control.env").read_text() == env_file_text(CONTROL, enabled=False, superpowered=False)
    assert "CTR_SUPERPOWERED=false\n" in (env / "control.env").read_text()
    assert env.stat().st_mode & 0o777 == 0o750
    for name in ("admin", "control"):
        storage = two.root / "local/host-containers" / name
        assert storage.is_dir() and storage.stat().st_mode & 0o777 == 0o700
        assert not (storage / "user-data").exists()
    assert "Host container 'admin' is enabled: true, superpowered: true, with source: " + ADMIN in run.stdout


def test_after_the_boot_enabled_is_enabled_now_and_disabled_disabled_now(two: Sandbox, tmp_path: Path) -> None:
    run = host_containers(two, tmp_path)
    assert run.code == 0, run.stderr
    assert run.calls == unit_calls("admin", booted=True, enabled=True) + unit_calls(
        "control", booted=True, enabled=False
    )


def test_during_the_boot_units_are_enabled_without_a_reload_and_started_without_waiting(
    two: Sandbox, tmp_path: Path
) -> None:
    # configured.target not reached yet, host-containerd not running: nothing to clean up
    run = host_containers(two, tmp_path, active="")
    assert run.code == 0, run.stderr
    assert run.calls == unit_calls("admin", booted=False, enabled=True, containerd=False) + unit_calls(
        "control", booted=False, enabled=False, containerd=False
    )


@pytest.mark.parametrize(
    ("changed", "handled"),
    [
        ("settings.host-containers.admin.source", ["admin"]),
        ("settings.host-containers.control.enabled settings.host-containers.control.source", ["control"]),
        ("settings.host-containers.admin.enabled settings.host-containers.control.enabled", ["admin", "control"]),
        ("settings.network.https-proxy", ["admin", "control"]),  # every container reads the proxy
        ("settings.host-containers.other.enabled", []),
        ("", ["admin", "control"]),  # the boot's --all run
    ],
    ids=["admin", "control", "both", "network", "another-container", "everything"],
)
def test_only_the_containers_a_change_concerns_are_restarted(
    two: Sandbox, tmp_path: Path, changed: str, handled: list[str]
) -> None:
    run = host_containers(two, tmp_path, changed=changed)
    assert run.code == 0, run.stderr
    stopped = [call[1] for call in run.calls if call[0] == "stop"]
    assert stopped == [f"host-containers@{name}.service" for name in handled]
    assert sorted(p.stem for p in (two.root / "etc/host-containers").glob("*.env")) == handled


def test_a_source_change_stops_cleans_up_and_starts_the_container_again(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = make_sandbox(live=live("admin", source=ADMIN, enabled=True))
    assert host_containers(sandbox, tmp_path).code == 0
    client = sandbox.client()
    client.patch_ok("/settings?tx=t", {"host-containers": {"admin": {"source": CONTROL}}})
    assert client.post("/tx/commit?tx=t").status == 200
    run = host_containers(sandbox, tmp_path, changed="settings.host-containers.admin.source")
    assert run.code == 0, run.stderr
    assert run.calls == unit_calls("admin", booted=True, enabled=True)
    assert f"CTR_SOURCE={CONTROL}\n" in (sandbox.root / "etc/host-containers/admin.env").read_text()


def test_user_data_is_written_decoded_to_the_persistent_storage(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    data = b"#!/bin/sh\necho from the user data\n\x00\xff"
    sandbox = make_sandbox(live=live("admin", source=ADMIN, enabled=True, user_data=base64.b64encode(data).decode()))
    run = host_containers(sandbox, tmp_path)
    assert run.code == 0, run.stderr
    assert (sandbox.root / "local/host-containers/admin/user-data").read_bytes() == data


def test_a_failing_container_is_reported_and_the_others_are_still_handled(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    # written straight to the datastore: the API itself refuses such values
    sandbox = make_sandbox(
        live={
            **live("admin", source=ADMIN, enabled=True, user_data="not base64!"),
            **live("control", source=CONTROL, enabled=True),
            **live("nosource", enabled=True),
        }
    )
    run = host_containers(sandbox, tmp_path)
    assert run.code == 1
    assert run.stderr.splitlines()[-1] == "Failed to manage 2 of 3 host containers"
    assert "Failed to handle host container 'admin': Unable to base64 decode user-data for container 'admin'" in (
        run.stderr
    )
    assert "Failed to handle host container 'nosource': Host containers 'nosource' missing field 'source'" in (
        run.stderr
    )
    assert run.calls == unit_calls("control", booted=True, enabled=True)
    assert not (sandbox.root / "etc/host-containers/admin.env").exists()


def test_a_failing_systemctl_fails_the_run_naming_the_command(two: Sandbox, tmp_path: Path) -> None:
    run = host_containers(two, tmp_path, fail="enable")
    assert run.code == 1
    assert "Failed to handle host container 'admin': '" in run.stderr
    assert "enable host-containers@admin.service --now --no-block' failed - exit status 1" in run.stderr
    assert "the stand-in was told to fail" in run.stderr
    assert run.stderr.splitlines()[-1] == "Failed to manage 1 of 2 host containers"
    # a stop that fails is ignored, as Bottlerocket ignores it
    assert host_containers(two, tmp_path, fail="stop").code == 0


def test_a_failing_clean_up_fails_that_container(two: Sandbox, tmp_path: Path) -> None:
    run = host_containers(two, tmp_path, fail="host-ctr")
    assert run.code == 1
    assert "clean-up --container-id admin' failed" in run.stderr
    assert not any(call[0] == "enable" for call in run.calls)


def test_no_api_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "thar.host_containers", "--socket-path", str(tmp_path / "none.sock")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Failed to read settings.host-containers from the API: ")
    assert str(tmp_path / "none.sock") in done.stderr


def test_the_settings_are_read_as_the_api_gives_them() -> None:
    assert parse_host_containers({}) == {}
    parsed = parse_host_containers({"host-containers": {"a": {"source": "s", "enabled": True, "user-data": "eA=="}}})
    assert parsed["a"].source == "s" and parsed["a"].enabled is True and parsed["a"].superpowered is None
    assert parsed["a"].user_data == "eA=="


@pytest.mark.parametrize(
    ("changed", "name", "affected"),
    [
        ([], "admin", True),
        (["settings.host-containers.admin.source"], "admin", True),
        (["settings.host-containers.admin.source"], "adm", False),  # a name that is a prefix of another
        (["settings.host-containers.control.source"], "admin", False),
        (["settings.motd"], "admin", True),
    ],
)
def test_is_container_affected(changed: list[str], name: str, affected: bool) -> None:
    assert is_container_affected(changed, name) is affected


def test_user_data_must_be_padded_standard_base64(tmp_path: Path) -> None:
    for bad in ("eA", "e-A=", "not base64"):
        with pytest.raises(UserDataInvalid):
            write_storage(tmp_path, "x", bad)
    assert (write_storage(tmp_path, "x", "eA==") / "user-data").read_bytes() == b"x"


def test_every_flag_and_variable_is_in_the_readme() -> None:
    from thar.host_containers.cli import build_parser

    readme = (Path(__file__).resolve().parents[2] / "host_containers/README.md").read_text()
    flags = [flag for action in build_parser()._actions for flag in action.option_strings if flag.startswith("--")]
    assert set(flags) == {"--help", "--socket-path", "--log-level"}
    for word in [*flags[1:], "HOST_CONTAINERS_SYSTEMCTL", "HOST_CONTAINERS_HOST_CTR", "CHANGED_SETTINGS"]:
        assert word in readme, word
