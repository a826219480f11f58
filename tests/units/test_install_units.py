"""``thar-install-units`` (thar/install_units.py) and its wrapper ``units/install.sh``: the
installed tree is byte for byte what the former sed-based install.sh produced, a second run
changes nothing, ``--bindir`` rewrites only thar's programs, and mistakes are clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thar import install_units

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "units"

# The body of units/install.sh before it became a wrapper: the reference for the tree installed.
FORMER_INSTALL_SH = r"""
set -euo pipefail
bindir="$1"; unitdir="$2"; destdir="$3"; src="$4"
target="${destdir%/}$unitdir"
mkdir -p "$target/multi-user.target.wants"
programs='migrator|storewolf|apiserver|early-boot-config|sundog|settings-committer|thar-be-settings'
for unit in "$src"/*.service "$src"/*.socket "$src"/*.target; do
    sed -E "s#/usr/bin/($programs)([[:space:]]|\$)#${bindir%/}/\\1\\2#g" "$unit" >"$target/$(basename "$unit")"
    chmod 0644 "$target/$(basename "$unit")"
done
ln -sfn ../preconfigured.target "$target/multi-user.target.wants/preconfigured.target"
"""


def former_install(destdir: Path, bindir: str = "/usr/bin", unitdir: str = "/usr/lib/systemd/system") -> None:
    subprocess.run(
        ["bash", "-c", FORMER_INSTALL_SH, "install", bindir, unitdir, str(destdir), str(UNITS)], check=True, timeout=60
    )


def tree(root: Path) -> dict[str, tuple[str, str | bytes, int]]:
    """Every entry below ``root``: (kind, content or link target, mode)."""
    found: dict[str, tuple[str, str | bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path), 0)
        elif path.is_dir():
            found[rel] = ("dir", "", 0)
        else:
            found[rel] = ("file", path.read_bytes(), path.stat().st_mode & 0o7777)
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thar.install_units", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"bindir": "/opt/thar/venv/bin"}, {"bindir": "/opt/thar/venv/bin/"}, {"unitdir": "/etc/systemd/system"}],
    ids=["defaults", "bindir", "bindir-slash", "unitdir"],
)
def test_the_installed_tree_is_what_the_former_install_sh_produced(tmp_path: Path, options: dict[str, str]) -> None:
    former_install(tmp_path / "before", **options)
    install_units.install(tmp_path / "after", **options)
    assert tree(tmp_path / "after") == tree(tmp_path / "before")


def test_the_wrapper_installs_the_same_tree(tmp_path: Path) -> None:
    former_install(tmp_path / "before", "/opt/v/bin")
    result = subprocess.run(
        ["bash", str(UNITS / "install.sh"), "--bindir", "/opt/v/bin", str(tmp_path / "after")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path / "after") == tree(tmp_path / "before")


def test_a_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    first = run("--root", str(tmp_path), "--bindir", "/opt/v/bin")
    assert first.returncode == 0, first.stderr
    before = tree(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    second = run("--root", str(tmp_path), "--bindir", "/opt/v/bin")
    assert second.returncode == 0, second.stderr
    assert tree(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == mtimes
    assert all(line.startswith(("unchanged ", "already enabled ")) for line in second.stdout.splitlines())
    assert "installed " in first.stdout and "enabled preconfigured.target" in first.stdout


def test_a_run_repairs_a_changed_unit_and_a_wrong_link(tmp_path: Path) -> None:
    install_units.install(tmp_path)
    expected = tree(tmp_path)
    unitdir = tmp_path / "usr/lib/systemd/system"
    (unitdir / "sundog.service").write_text("edited\n")
    (unitdir / "sundog.service").chmod(0o600)
    (unitdir / "multi-user.target.wants/preconfigured.target").unlink()
    (unitdir / "multi-user.target.wants/preconfigured.target").symlink_to("/elsewhere")
    report = install_units.install(tmp_path)
    assert tree(tmp_path) == expected
    assert f"installed {unitdir / 'sundog.service'}" in report
    assert f"unchanged {unitdir / 'storewolf.service'}" in report


def test_bindir_rewrites_thars_programs_only(tmp_path: Path) -> None:
    text = (
        "ExecStart=/usr/bin/sundog\n"
        "ExecStart=/usr/bin/apiserver --applier /usr/bin/thar-be-settings\n"
        "ExecStartPre=/usr/bin/settings-committer\n"
        "ExecStart=/usr/bin/sundogs /usr/bin/true /usr/bin/migrator-x /usr/bin/storewolf\t--x\n"
    )
    assert install_units.rewrite(text, "/v/bin") == (
        "ExecStart=/v/bin/sundog\n"
        "ExecStart=/v/bin/apiserver --applier /v/bin/thar-be-settings\n"
        "ExecStartPre=/v/bin/settings-committer\n"
        "ExecStart=/usr/bin/sundogs /usr/bin/true /usr/bin/migrator-x /v/bin/storewolf\t--x\n"
    )
    result = run("--root", str(tmp_path), "--bindir", "/v/bin")
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "usr/lib/systemd/system"
    for unit in installed.glob("*.service"):
        assert "/usr/bin/" not in unit.read_text(), unit.name
    assert "ExecStart=/v/bin/thar-be-settings --all" in (installed / "settings-applier.service").read_text()


def test_the_units_come_from_the_package(tmp_path: Path) -> None:
    names = [unit.name for unit in install_units.shipped_units()]
    assert names == sorted(p.name for p in UNITS.iterdir() if p.suffix in (".service", ".socket", ".target"))


@pytest.mark.parametrize(
    "args",
    [[], ["--bindir", "/usr/bin"], ["--root", "R", "--bindir", "relative/bin"], ["--root", "R", "--unitdir", "etc"]],
    ids=["no-root", "no-root-bindir", "relative-bindir", "relative-unitdir"],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = run(*(str(tmp_path / a) if a == "R" else a for a in args))
    assert result.returncode == 2
    assert "usage: thar-install-units" in result.stderr
    assert not (tmp_path / "R").exists()


def test_an_unwritable_root_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run("--root", str(tmp_path / "file"))
    assert result.returncode == 1
    assert result.stderr.startswith("thar-install-units: cannot install the units into ")
    assert "Traceback" not in result.stderr


def test_a_directory_in_the_way_of_a_unit_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/systemd/system/sundog.service").mkdir(parents=True)
    result = run("--root", str(tmp_path))
    assert result.returncode == 1
    assert "sundog.service is a directory" in result.stderr
