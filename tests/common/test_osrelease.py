"""thar.osrelease: os-release assignments, read one way everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from thar.osrelease import parse_os_release, read_os_release

RELEASE = """\
NAME=Bottlerocket
ID=bottlerocket
VERSION="1.20.0 (aws-k8s-1.29)"
PRETTY_NAME="Bottlerocket OS 1.20.0 (aws-k8s-1.29)"
VARIANT_ID=aws-k8s-1.29
VERSION_ID=1.20.0
BUILD_ID=fa2bb2f1
"""


def test_assignments_by_name() -> None:
    fields = parse_os_release(RELEASE)
    assert fields["NAME"] == "Bottlerocket"
    assert fields["PRETTY_NAME"] == "Bottlerocket OS 1.20.0 (aws-k8s-1.29)"
    assert fields["VERSION_ID"] == "1.20.0"
    assert len(fields) == 7


def test_comments_blank_lines_and_lines_without_an_equals_sign_are_skipped() -> None:
    text = "# VERSION_ID=9.9.9\n\n  # indented comment=x\nnonsense\n=nameless\nVERSION_ID=1.0.0\n"
    assert parse_os_release(text) == {"VERSION_ID": "1.0.0"}


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ('A="quoted"', "quoted"),
        ("A='single'", "single"),
        ('  A = "spaced"  ', "spaced"),
        ('A="unmatched', '"unmatched'),
        ("A=\"mixed'", "\"mixed'"),
        ('A=""', ""),
        ("A=", ""),
        ('A="a=b"', "a=b"),
        ('A=""x""', '"x"'),
    ],
)
def test_one_matching_pair_of_quotes_is_removed(line: str, value: str) -> None:
    assert parse_os_release(line) == {"A": value}


def test_a_later_assignment_wins() -> None:
    assert parse_os_release("VERSION_ID=1.0.0\nVERSION_ID=2.0.0\n") == {"VERSION_ID": "2.0.0"}


def test_names_keep_their_case() -> None:
    assert parse_os_release("variant_id=x\n") == {"variant_id": "x"}


def test_read_a_file(tmp_path: Path) -> None:
    path = tmp_path / "os-release"
    path.write_text(RELEASE, encoding="utf-8")
    assert read_os_release(path) == parse_os_release(RELEASE)
    assert read_os_release(str(path)) == parse_os_release(RELEASE)


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_os_release(tmp_path / "absent")
