"""``THAR_ROOT`` means one thing to every program: unset or empty is ``/``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thar.paths import thar_root


@pytest.mark.parametrize(
    ("environ", "expected"), [({}, "/"), ({"THAR_ROOT": ""}, "/"), ({"THAR_ROOT": "/srv/x"}, "/srv/x")]
)
def test_thar_root(environ: dict[str, str], expected: str) -> None:
    assert thar_root(environ) == Path(expected)


def test_every_program_reads_the_same_root() -> None:
    code = (
        "from thar.apiserver.__main__ import thar_root as a; from thar.storewolf.defaults import thar_root as b; "
        "from thar.early_boot_config.paths import thar_root as c; "
        "from thar.migrations.migration_helpers.data import thar_root as d; "
        "print(a() == b() == c() == d(), a())"
    )
    env = {**os.environ, "THAR_ROOT": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["True", "/"]
