"""thar-boot's pieces that need no boot: choosing the variant, the restart-command rule, the
step list, finding programs without importing them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thar import variants
from thar.sandbox.errors import SandboxRefused
from thar.sandbox.layout import host_restart_commands, open_sandbox
from thar.sandbox.prepare import prepare
from thar.sandbox.programs import child_env, held_command, installed
from thar.sandbox.steps import BOOT_STEPS, Step
from thar.sandbox.timeline import StepResult as Result
from thar.sandbox.timeline import format_timeline


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


def test_thar_boot_is_the_sandbox_cli() -> None:
    import tomllib

    from thar.sandbox import cli

    scripts = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["thar-boot"] == "thar.sandbox.cli:main"
    assert callable(cli.main)
    result = subprocess.run([sys.executable, "-m", "thar.sandbox", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("usage: thar-boot ")


def test_finding_a_program_imports_nothing() -> None:
    """Importing the apiserver's package costs a quarter of a second: thar-boot must not."""
    code = (
        "import sys; from thar.sandbox.programs import installed; "
        "assert installed('thar.apiserver.__main__') and installed('thar.sundog.cli'); "
        "assert not installed('thar.sundog.nope') and not installed('no_such_package.cli'); "
        "heavy = ('thar.apiserver', 'thar.sundog', 'thar.storewolf', 'thar.models'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
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


@pytest.mark.parametrize("name", ["thar-dev", "thar-k8s"])
def test_every_module_a_held_step_preloads_exists(name: str, tmp_path: Path) -> None:
    """A preload that fails is skipped silently (the program imports it again and reports the
    failure), so a renamed module would only make the boot slower: catch it here."""
    sandbox = open_sandbox(tmp_path, name)
    preloads = {step.name: step.preload(sandbox) for step in BOOT_STEPS}
    assert "thar.schnauzer.render" in preloads["thar-be-settings --all"] and "thar.schnauzer.cli" in preloads["sundog"]
    for step, modules in preloads.items():
        for module in modules:
            assert installed(module), (step, module)
    # thar-k8s's containerd template validates with the settings model; thar-dev has no such template.
    assert ("thar.models.settings.oci_defaults" in preloads["thar-be-settings --all"]) == (name == "thar-k8s")


def _probe(tmp_path: Path, *modules: str) -> tuple[Step, dict[str, str]]:
    """A program ``probe`` whose main() prints which of ``modules`` are imported, and exits 3."""
    (tmp_path / "probe.py").write_text(
        "import sys\n"
        "def main() -> int:\n"
        f"    print(sys.argv[0], sys.argv[1:], sorted(m for m in {modules!r} if m in sys.modules))\n"
        "    return 3\n"
    )
    step = Step("probe", "probe.service", "probe", "probe:main", lambda _sandbox: [])
    return step, dict(os.environ, PYTHONPATH=str(tmp_path))


def test_a_held_step_preloads_then_waits_and_runs_only_when_released(tmp_path: Path) -> None:
    step, env = _probe(tmp_path, "csv", "marked")
    (tmp_path / "marked.py").write_text(f"open({str(tmp_path / 'preloaded')!r}, 'w').close()\n")
    argv = [*held_command(step, ("csv", "no_such_module_for_the_test", "marked")), "--flag"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while not (tmp_path / "preloaded").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the last module of the list is imported: the preload is done
    out, err = proc.communicate(b"1", timeout=60)
    assert (proc.returncode, err) == (3, b"")  # a module that cannot be imported is skipped
    assert out.decode() == "probe ['--flag'] ['csv', 'marked']\n"
    never = subprocess.run(argv, input=b"", capture_output=True, env=env, timeout=60)
    assert (never.returncode, never.stdout, never.stderr) == (0, b"", b"")  # end of input: exits, main() never ran


def test_a_step_released_during_its_preload_skips_the_rest_of_it(tmp_path: Path) -> None:
    step, env = _probe(tmp_path, "gate", "csv")
    # "gate" is a preload still running when the release comes: it waits for it.
    marker = tmp_path / "in-gate"
    gate = f"import select\nopen({str(marker)!r}, 'w').close()\nselect.select([0], [], [])\n"
    (tmp_path / "gate.py").write_text(gate)
    argv = held_command(step, ("gate", "csv"))
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    out, err = proc.communicate(b"1", timeout=60)
    assert (proc.returncode, out, err) == (3, b"probe [] ['gate']\n", b"")


def test_the_sandbox_recorder_comes_first_on_every_steps_path(tmp_path: Path) -> None:
    sandbox = open_sandbox(tmp_path, None)
    prepare(sandbox, None)
    recorder = sandbox.root / "usr/bin/thar-record-restart"
    assert recorder.is_file() and os.access(recorder, os.X_OK)
    path = child_env(sandbox)["PATH"].split(os.pathsep)
    assert path[0] == str(sandbox.root / "usr/bin")
    assert path[1] == str(Path(sys.executable).parent)  # then thar's console scripts
