"""apiclient's README documents its CLI and public surface; the package exports what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thar import apiclient
from thar.apiclient.cli import SUBCOMMANDS, main
from thar.apiclient.committer import main as committer_main

README = (Path(apiclient.__file__).parent / "README.md").read_text()


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def flags_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text))


def undocumented(flags: set[str]) -> list[str]:
    return sorted(f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", README))


def test_every_apiclient_flag_is_in_the_readme(capsys: pytest.CaptureFixture[str]) -> None:
    flags = flags_in(help_text(capsys, "--help"))
    for subcommand in SUBCOMMANDS:
        flags |= flags_in(help_text(capsys, subcommand, "--help"))
    assert len(flags) > 15
    assert undocumented(flags) == []


def test_every_settings_committer_flag_is_in_the_readme(capsys: pytest.CaptureFixture[str]) -> None:
    assert committer_main(["--help"]) == 0
    flags = flags_in(capsys.readouterr().out)
    assert {"--transaction", "--socket-path", "--log-level"} <= flags
    assert undocumented(flags) == []


def test_every_subcommand_is_in_the_readme() -> None:
    assert [s for s in SUBCOMMANDS if f"`{s}" not in README] == []


def test_every_exported_name_is_documented_and_importable() -> None:
    assert [name for name in apiclient.__all__ if f"`{name}`" not in README] == []
    for name in apiclient.__all__:
        assert getattr(apiclient, name) is not None
    assert apiclient.__all__ == sorted(apiclient.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n))


def test_the_package_docstring_is_the_readme_first_paragraph() -> None:
    first_sentence = README.split("\n\n")[1].split(". ")[0]
    assert (apiclient.__doc__ or "").startswith(" ".join(first_sentence.split()))
