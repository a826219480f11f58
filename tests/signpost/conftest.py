"""A sandboxed system for signpost: THAR_ROOT with ``run/signpost/boot.json`` naming a sparse disk
image of Bottlerocket's layout (set A booted), and helpers to run signpost and read bits with sgdisk."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.containers import REQUIRED
from thar.signpost import bootsim, cli, image

ROOT_A = 4  # partition numbers of the dual-set image
BOOT_A, BOOT_B, PRIVATE = 3, 8, 12
PRIORITY, TRIES, SUCCESSFUL, EVER = 48, 52, 56, 57


@dataclass
class System:
    root: Path
    disk: Path

    def signpost(self, *args: str) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of ``signpost ARGS`` on this system."""
        out, err = io.StringIO(), io.StringIO()
        old = os.environ.get("THAR_ROOT")
        os.environ["THAR_ROOT"] = str(self.root)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = cli.main(list(args))
        finally:
            if old is None:
                del os.environ["THAR_ROOT"]
            else:
                os.environ["THAR_ROOT"] = old
        return status, out.getvalue(), err.getvalue()

    def ok(self, *args: str) -> str:
        status, out, err = self.signpost(*args)
        assert (status, err) == (0, ""), (args, err)
        return out

    def fails(self, *args: str) -> str:
        status, out, err = self.signpost(*args)
        assert (status, out) == (1, ""), (args, out)
        return err


def need_sgdisk() -> str:
    path = shutil.which("sgdisk")
    if path is None:
        why = "needs sgdisk (Debian: gdisk)"
        if REQUIRED:
            pytest.fail(f"{why} (THAR_HOST_TESTS=required)")
        pytest.skip(why)
    return path


def sgdisk(*args: str) -> str:
    result = subprocess.run([need_sgdisk(), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result
    return result.stdout


def bits(disk: Path | str, number: int) -> tuple[int, int, bool]:
    """(priority, tries left, successful) of partition ``number``, as sgdisk reads them."""
    checks = [f"{number}:get:{bit}" for bit in range(PRIORITY, SUCCESSFUL + 1)]
    out = sgdisk(*[arg for check in checks for arg in ("-A", check)], str(disk))
    values = [line.rsplit(":", 1)[1] == "1" for line in out.split()]
    priority = sum(1 << i for i, on in enumerate(values[0:4]) if on)
    tries = sum(1 << i for i, on in enumerate(values[4:8]) if on)
    return priority, tries, values[8]


def bit(disk: Path | str, number: int, which: int) -> bool:
    return sgdisk("-A", f"{number}:get:{which}", str(disk)).strip().endswith(":1")


def verify(disk: Path | str) -> None:
    """sgdisk finds both tables valid (headers, arrays and their CRCs)."""
    assert "No problems found" in sgdisk("-v", str(disk))


def make_system(tmp_path: Path, *, dual: bool = True) -> System:
    disk = tmp_path / "disk.img"
    image.make_disk(disk, dual=dual)
    root = tmp_path / "root"
    bootsim.write_boot_state(root, str(disk), ROOT_A)
    return System(root, disk)


@pytest.fixture
def system(tmp_path: Path) -> System:
    return make_system(tmp_path)
