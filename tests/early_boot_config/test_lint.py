"""`early-boot-config lint`: user-data files checked offline against a variant's model, also
against every conformance variant (../shared/conformance/defaults)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from thar.models import load_variant

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "defaults"
VARIANTS = sorted(p.name for p in CONFORMANCE.iterdir() if (p / "defaults.d").is_dir()) if CONFORMANCE.is_dir() else []


def lint(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thar.early_boot_config", "lint", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_conformance_variants_are_there() -> None:
    assert len(VARIANTS) >= 17


def test_valid_user_data_passes(tmp_path: Path) -> None:
    file = tmp_path / "ud.toml"
    file.write_text('[settings]\nmotd = "hi"\n[settings.kernel.sysctl]\n"vm.max_map_count" = "262144"\n')
    result = lint(file)
    assert result.returncode == 0, result.stderr
    assert f"{file}: OK (variant 'thar-dev')" in result.stdout


def test_every_problem_is_listed(tmp_path: Path) -> None:
    file = tmp_path / "ud.toml"
    file.write_text('[settings]\nmotd = 1\n[settings.ntp]\ntime-servers = ["ok.example", "how are you"]\n')
    result = lint(file)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
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
