"""`./dev` installs and compiles only when something changed, so that a second `./dev run` starts at once.

The environment is a stand-in: `VIRTUAL_ENV` is a temporary directory and `python` on `PATH` is
a script that records its arguments, so nothing is installed and nothing leaves the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def checkout(tmp_path: Path) -> Path:
    """A copy of what `./dev` reads: the script, pyproject.toml and one package."""
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    shutil.copy2(ROOT / "dev", repo / "dev")
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    (repo / "pkg/__init__.py").write_text("")
    return repo


def dev_test(repo: Path, tmp_path: Path, **env: str) -> list[str]:
    """Run `./dev test`; the `python` command lines it ran."""
    bin_dir = tmp_path / "bin"
    record = tmp_path / "python-calls"
    if not bin_dir.exists():
        bin_dir.mkdir()
        (bin_dir / "python").write_text(f'#!/bin/sh\necho "$*" >>{record}\n')
        (bin_dir / "python").chmod(0o755)
    venv = tmp_path / "venv"
    venv.mkdir(exist_ok=True)
    record.write_text("")
    environ = {k: v for k, v in os.environ.items() if k != "THAR_DEV_REINSTALL"}
    environ.update(VIRTUAL_ENV=str(venv), PATH=f"{bin_dir}:{os.environ['PATH']}", **env)
    done = subprocess.run([str(repo / "dev"), "test", "-q"], env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return record.read_text().splitlines()


def installs(calls: list[str]) -> int:
    return sum(call.startswith("-m pip install") for call in calls)


def compiles(calls: list[str]) -> int:
    return sum(call.startswith("-m compileall") for call in calls)


def test_a_second_run_neither_installs_nor_compiles(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    first = dev_test(repo, tmp_path)
    assert (installs(first), compiles(first), first[-1]) == (1, 1, "-m pytest -q")
    second = dev_test(repo, tmp_path)
    assert second == ["-m pytest -q"]


def test_a_changed_pyproject_installs_again(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    dev_test(repo, tmp_path)
    with (repo / "pyproject.toml").open("a") as f:
        f.write("\n# changed\n")
    calls = dev_test(repo, tmp_path)
    assert (installs(calls), compiles(calls)) == (1, 1)


def test_a_changed_module_is_compiled_but_not_installed(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    dev_test(repo, tmp_path)
    module = repo / "pkg/__init__.py"
    stamp = tmp_path / "venv/.thar-dev-compiled"
    earlier = stamp.stat().st_mtime - 10  # as if the last compile were 10 s ago
    os.utime(stamp, (earlier, earlier))
    module.write_text("x = 1\n")
    calls = dev_test(repo, tmp_path)
    assert (installs(calls), compiles(calls)) == (0, 1)
    assert dev_test(repo, tmp_path) == ["-m pytest -q"]


def test_thar_dev_reinstall_forces_the_install(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    dev_test(repo, tmp_path)
    calls = dev_test(repo, tmp_path, THAR_DEV_REINSTALL="1")
    assert installs(calls) == 1


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_the_sandboxes_the_readme_suggests_are_ignored() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", ".sandbox/x", ".sandbox-k8s/x", "sandbox-k8s/x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == [".sandbox/x", ".sandbox-k8s/x", "sandbox-k8s/x"]
