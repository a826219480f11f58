"""thar.atomic: a file is replaced whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from thar.atomic import sync_directory, write_atomic


def test_creates_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    write_atomic(target, "hello\n")
    assert target.read_text(encoding="utf-8") == "hello\n"


def test_replaces_a_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old contents that are longer")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["file"]


def test_str_is_written_as_utf8(tmp_path: Path) -> None:
    target = tmp_path / "file"
    write_atomic(str(target), "café")
    assert target.read_bytes() == "café".encode()


def test_the_mode_is_applied_exactly(tmp_path: Path) -> None:
    target = tmp_path / "file"
    old = os.umask(0o077)
    try:
        write_atomic(target, "x", mode=0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    write_atomic(target, "y", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_without_a_mode_the_umask_applies(tmp_path: Path) -> None:
    target = tmp_path / "file"
    old = os.umask(0o027)
    try:
        write_atomic(target, "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_the_callers_own_owner_is_no_change(tmp_path: Path) -> None:
    target = tmp_path / "file"
    write_atomic(target, "x", owner=(os.geteuid(), os.getegid()))
    assert (target.stat().st_uid, target.stat().st_gid) == (os.geteuid(), os.getegid())


def test_a_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("untouched", encoding="utf-8")
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    write_atomic(link, "new")
    assert not link.is_symlink()
    assert link.read_text(encoding="utf-8") == "new"
    assert elsewhere.read_text(encoding="utf-8") == "untouched"


def test_a_failed_rename_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    (target / "inside").write_text("keep", encoding="utf-8")
    with pytest.raises(OSError):
        write_atomic(target, "cannot replace a non-empty directory")
    assert sorted(os.listdir(tmp_path)) == ["dir"]
    assert (target / "inside").read_text(encoding="utf-8") == "keep"


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "absent" / "file", "x")


@pytest.mark.parametrize("sync", [True, False])
def test_sync_options(tmp_path: Path, sync: bool) -> None:
    target = tmp_path / "file"
    write_atomic(target, "x", sync=sync, sync_dir=True)
    assert target.read_text(encoding="utf-8") == "x"


def test_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_atomic("file", "x", sync_dir=True)
    assert (tmp_path / "file").read_text(encoding="utf-8") == "x"


def test_sync_directory(tmp_path: Path) -> None:
    sync_directory(tmp_path)
    with pytest.raises(NotADirectoryError):
        (tmp_path / "file").write_text("x", encoding="utf-8")
        sync_directory(tmp_path / "file")
