"""Every program answers `--help` (and `-h`) with its usage on stdout and exit 0, through its real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from thar.apiclient.cli import SUBCOMMANDS

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def run_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run console script `name` as its installed wrapper does: import the entry point, exit with what it returns."""
    module, _, function = SCRIPTS[name].partition(":")
    code = f"import sys; sys.argv[0] = {name!r}; from {module} import {function}; sys.exit({function}())"
    env = {k: v for k, v in os.environ.items() if k != "THAR_ROOT"}
    env["THAR_ROOT"] = str(cwd)  # nothing a help request does may touch the host
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_console_script_answers_help_with_its_usage_and_exit_0(script: str, flag: str, tmp_path: Path) -> None:
    done = run_script(script, flag, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.lower().startswith("usage:")
    assert script in done.stdout.splitlines()[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_every_apiclient_subcommand_answers_help_with_exit_0(subcommand: str, tmp_path: Path) -> None:
    done = run_script("apiclient", subcommand, "--help", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"usage: apiclient {subcommand}")


@pytest.mark.parametrize("command", [["lint"], ["install-providers"]])
def test_early_boot_config_commands_answer_help_with_exit_0(command: list[str], tmp_path: Path) -> None:
    done = run_script("early-boot-config", *command, "--help", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"usage: early-boot-config {command[0]}")


def test_a_mistyped_apiclient_subcommand_names_the_valid_ones(tmp_path: Path) -> None:
    done = run_script("apiclient", "sett", "motd=hi", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    first = done.stderr.splitlines()[0]
    assert first.startswith("Unknown argument 'sett': not a subcommand; did you mean 'set'?")
    assert all(f" {name}" in first for name in SUBCOMMANDS)
