"""`early-boot-config lint`: user-data files checked offline against a variant's model, also
against every conformance variant (../shared/conformance/defaults)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thar.models import load_variant

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "defaults"
VARIANTS = sorted(p.name for p in CONFORMANCE.iterdir() if (p / "defaults.d").is_dir()) if CONFORMANCE.is_dir() else []


def lint(*args: str | Path, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run lint; THAR_ROOT is `root` (default: a directory without os-release)."""
    env = dict(os.environ, THAR_ROOT=str(root or Path(__file__).parent))
    return subprocess.run(
        [sys.executable, "-m", "thar.early_boot_config", "lint", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def with_os_release(root: Path, text: str) -> Path:
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text(text)
    return root


def test_the_conformance_variants_are_there() -> None:
    assert len(VARIANTS) >= 17


def test_valid_user_data_passes(tmp_path: Path) -> None:
    file = tmp_path / "ud.toml"
    file.write_text('[settings]\nmotd = "hi"\n[settings.kernel.sysctl]\n"vm.max_map_count" = "262144"\n')
    result = lint(file)
    assert result.returncode == 0, result.stderr
    assert f"{file}: OK (variant 'thar-dev')" in result.stdout


def test_without_variant_or_os_release_it_says_it_checked_against_thar_dev(tmp_path: Path) -> None:
    file = tmp_path / "ud.toml"
    file.write_text('[settings]\nmotd = "hi"\n')
    result = lint(file, root=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"No --variant and no VARIANT_ID in {tmp_path}/usr/lib/os-release: checked against 'thar-dev'\n"
    )


def test_the_variant_comes_from_the_os_release_under_thar_root(tmp_path: Path) -> None:
    root = with_os_release(tmp_path / "root", 'NAME=Bottlerocket\nVARIANT_ID="aws-dev"\n')
    file = tmp_path / "ud.toml"
    file.write_text('[settings]\nmotd = "hi"\n[settings.aws]\nregion = "us-west-2"\n')
    result = lint(file, root=root)
    assert (result.returncode, result.stderr) == (0, "")
    assert f"{file}: OK (variant 'aws-dev')" in result.stdout
    assert lint(file).returncode == 1  # thar-dev has no aws settings


def test_variant_flag_wins_over_the_os_release(tmp_path: Path) -> None:
    root = with_os_release(tmp_path / "root", "VARIANT_ID=aws-dev\n")
    file = tmp_path / "ud.toml"
    file.write_text('[settings.aws]\nregion = "us-west-2"\n')
    result = lint(file, "--variant", "thar-dev", root=root)
    assert result.returncode == 1
    assert "variant 'thar-dev'" in result.stderr


def test_an_empty_file_is_accepted_as_the_boot_accepts_it(tmp_path: Path) -> None:
    file = tmp_path / "empty.toml"
    file.write_bytes(b"")
    result = lint(file)
    assert result.returncode == 0, result.stderr
    assert f"{file}: OK (variant 'thar-dev', empty: no user data)" in result.stdout


def test_every_problem_is_listed(tmp_path: Path) -> None:
    file = tmp_path / "ud.toml"
    file.write_text('[settings]\nmotd = 1\n[settings.ntp]\ntime-servers = ["ok.example", "how are you"]\n')
    result = lint(file)
    assert result.returncode == 1
    note, *lines = result.stderr.splitlines()
    assert note.endswith("checked against 'thar-dev'")
    assert "settings.motd = 1: must be a string (no conversion from other types)" in lines
    assert any(line.startswith('settings.ntp.time-servers[1] = "how are you"') for line in lines)
    assert str(file) in lines[0] and "2 problem(s)" in lines[0]


def test_bad_toml_gives_line_and_column(tmp_path: Path) -> None:
    file = tmp_path / "ud.toml"
    file.write_text('[settings]\nmotd = "unterminated\n')
    result = lint(file)
    assert result.returncode == 1
    assert "(at line 2, column" in result.stderr and str(file) in result.stderr


def test_gzip_files_and_stdin(tmp_path: Path) -> None:
    file = tmp_path / "ud.toml.gz"
    file.write_bytes(gzip.compress(b'[settings]\nmotd = "zipped"\n'))
    assert lint(file).returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "thar.early_boot_config", "lint", "-"],
        input="[settings]\nmotd = 2\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "standard input" in result.stderr


def test_several_files_report_each(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[settings]\nmotd = "ok"\n')
    bad.write_text("[settings]\nmotd = true\n")
    result = lint(good, bad, tmp_path / "missing.toml")
    assert result.returncode == 1
    assert f"{good}: OK" in result.stdout
    assert f"{bad}" in result.stderr and "missing.toml: cannot read it" in result.stderr


def test_an_unknown_variant_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "ud.toml"
    file.write_text('[settings]\nmotd = "ok"\n')
    result = lint(file, "--variant", "no-such-family-1")
    assert result.returncode == 2
    assert "Cannot load variant 'no-such-family-1'" in result.stderr


@pytest.fixture(scope="module")
def aws_user_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    file = tmp_path_factory.mktemp("lint") / "aws.toml"
    file.write_text('[settings]\nmotd = "hi"\n[settings.aws]\nregion = "us-west-2"\n')
    return file


@pytest.mark.parametrize("variant", VARIANTS)
def test_user_data_against_each_conformance_variant(variant: str, aws_user_data: Path) -> None:
    """Settings of the aws extension are accepted exactly by the variants whose model has it."""
    from thar.early_boot_config.lint import lint_file

    model = load_variant(CONFORMANCE / variant)
    result = lint_file(str(aws_user_data), model)
    assert result.ok == ("aws" in model.extensions), result.problems
    if not result.ok:
        assert any("settings" in line and "aws" in line for line in result.problems[1:])
