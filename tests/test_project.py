"""Project checks: the README's commands, CI, and the documented public API."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from thar import datastore

ROOT = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Run the tests", 1)[1]
    match = re.search(r"```sh\n(.+?)\n```", section, re.S)
    assert match is not None, "README has no test command block"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = readme_test_command()
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert ci_lines[-1] == command


def test_ci_fails_when_the_conformance_data_is_missing(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci/run", repo / ".ci/run")
    result = subprocess.run(["bash", str(repo / ".ci/run")], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "../shared/conformance" in result.stderr
    assert not (repo / ".ci/venv").exists()


def test_every_public_datastore_name_is_documented() -> None:
    readme = (ROOT / "datastore/README.md").read_text()
    assert [name for name in datastore.__all__ if f"`{name}" not in readme] == []


def test_every_module_postpones_annotations() -> None:
    for path in [*ROOT.glob("datastore/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/*.py")]:
        text = path.read_text()
        if text.strip():
            assert "from __future__ import annotations" in text, path
