"""A small real filesystem for tests that fill the disk: a tmpfs mounted in the test's own
directory (root only), and a ballast file that leaves exactly as much room as a test wants."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

PAGE = 4096
BALLAST = ".ballast"


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted at ``where`` (created; it must be ours and empty),
    unmounted afterwards. Skips the test where mounting is not allowed (not root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "thar-test", str(where)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield where
    finally:
        # Lazy, so that a process of the test still holding a file cannot keep it mounted.
        subprocess.run(["umount", "-l", str(where)], check=True)


def free_bytes(where: Path) -> int:
    stat = os.statvfs(where)
    return stat.f_bavail * stat.f_frsize


def fill(where: Path, leave: int) -> None:
    """Grow (or shrink) the ballast file in ``where`` until ``leave`` bytes (rounded down to
    pages) are free."""
    ballast = where / BALLAST
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        os.lseek(fd, size, os.SEEK_SET)
        chunk = b"\0" * (64 * PAGE)
        while True:  # fill it all, then give back what is to be left
            try:
                size += os.write(fd, chunk if len(chunk) <= free_bytes(where) else chunk[:PAGE])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        os.ftruncate(fd, max(0, size - (leave // PAGE) * PAGE))
    finally:
        os.close(fd)


def empty(where: Path) -> None:
    """Remove the ballast."""
    with contextlib.suppress(FileNotFoundError):
        (where / BALLAST).unlink()
