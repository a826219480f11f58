"""thar-boot's pieces that need no boot: choosing the variant, the restart-command rule, the
step list, finding programs without importing them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import variants
from early_boot_config.boot import (
    BOOT_STEPS,
    SandboxRefused,
    format_timeline,
    host_restart_commands,
    installed,
    open_sandbox,
)
from early_boot_config.boot import StepResult as Result


def test_a_fresh_sandbox_boots_thar_dev_by_default(tmp_path: Path) -> None:
    sandbox = open_sandbox(tmp_path / "new", None)
    assert (sandbox.variant, sandbox.variant_id) == ("thar-dev", "thar-dev")
    assert sandbox.root == (tmp_path / "new").resolve()
    assert sandbox.socket == sandbox.root / "run/api.sock"
    assert sandbox.datastore == sandbox.root / "var/lib/bottlerocket/datastore/current"


def test_a_booted_sandbox_boots_its_own_variant_again(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text((variants.path("thar-k8s") / "os-release").read_text())
    assert open_sandbox(tmp_path, None).variant_id == "thar-k8s"
    with pytest.raises(SandboxRefused, match="was booted as 'thar-k8s'"):
        open_sandbox(tmp_path, "thar-dev")


def test_a_variant_directory_is_accepted(tmp_path: Path) -> None:
    sandbox = open_sandbox(tmp_path / "sandbox", str(variants.path("thar-k8s")))
    assert sandbox.variant == str(variants.path("thar-k8s")) and sandbox.variant_id == "thar-k8s"
    with pytest.raises(SandboxRefused, match="has no os-release"):
        open_sandbox(tmp_path / "other", str(tmp_path))


@pytest.mark.parametrize("name", variants.names())
def test_only_a_variant_whose_restarts_act_on_the_host_is_applied_without_restarts(name: str) -> None:
    commands = host_restart_commands(variants.path(name))
    assert all(not c.startswith("thar-record-restart ") for c in commands)
    if name == "thar-dev":  # the sandbox variant: every restart is recorded, none is real
        assert commands == ()
    else:
        assert any(c.startswith("/bin/systemctl ") for c in commands)


def test_restart_commands_of_later_defaults_files_replace_earlier_ones(tmp_path: Path) -> None:
    (tmp_path / "defaults.d").mkdir()
    (tmp_path / "defaults.d/10-a.toml").write_text('[services.x]\nrestart-commands = ["/bin/systemctl restart x"]\n')
    (tmp_path / "defaults.d/20-b.toml").write_text('[services.x]\nrestart-commands = ["thar-record-restart x"]\n')
    assert host_restart_commands(tmp_path) == ()
    (tmp_path / "defaults.d/30-c.toml").write_text('[services.y]\nrestart-commands = ["netdog write-resolv-conf"]\n')
    assert host_restart_commands(tmp_path) == ("netdog write-resolv-conf",)


def test_every_step_is_a_declared_console_script_with_an_installed_entry() -> None:
    import tomllib

    scripts = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["scripts"]
    for step in BOOT_STEPS:
        assert scripts[step.program] == step.entry, step.name
        assert installed(step.module), step.module
    assert [s.name for s in BOOT_STEPS if s.service] == ["apiserver"]


def test_finding_a_program_imports_nothing() -> None:
    """Importing the apiserver's package costs a quarter of a second: thar-boot must not."""
    code = (
        "import sys; from early_boot_config.boot import installed; "
        "assert installed('apiserver.__main__') and installed('sundog.cli') and not installed('sundog.nope'); "
        "assert not installed('no_such_package.cli'); "
        "print(sorted(m for m in ('apiserver', 'sundog', 'storewolf', 'models') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_timeline_shows_every_step_with_its_start_duration_and_status(tmp_path: Path) -> None:
    sandbox = open_sandbox(tmp_path, None)
    text = format_timeline(
        sandbox,
        True,
        [
            Result("prepare", "-", "ok", 0.0, 0.004, "os-release"),
            Result("storewolf", "storewolf.service", "ok", 0.004, 0.3),
            Result("early-boot-config", "early-boot-config.service", "skipped", 0.31, 0.0, "not the first boot"),
            Result("sundog", "sundog.service", "failed", 0.31, 0.05),
        ],
        0.36,
    )
    lines = text.splitlines()
    assert lines[0] == f"thar-boot: thar-dev first boot of {sandbox.root}"
    assert any(line.split()[:5] == ["storewolf", "storewolf.service", "4", "ms", "300"] for line in lines)
    assert any("early-boot-config" in line and "SKIPPED: not the first boot" in line for line in lines)
    assert any(line.strip().startswith("sundog") and line.endswith("FAILED") for line in lines)
    assert lines[-1].split() == ["total", "360", "ms"]


def test_the_machines_own_root_is_refused() -> None:
    with pytest.raises(SandboxRefused, match="install the systemd units instead"):
        open_sandbox(Path("/"), None)
