"""The apiclient host-ctr gives host containers: the zipapp and the choice of its interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from thar.host_ctr.apiclient import (
    BUNDLE,
    PYTHON_HOME,
    Interpreter,
    build_bundle,
    host_interpreter,
    interpreter,
    links_libpython,
)
from thar.host_ctr.mounts import Mount, apiclient_mounts


def test_a_static_python_is_relocated_below_the_bottlerocket_folder() -> None:
    usr = Path("/usr")
    found = interpreter(
        usr, usr / "bin/python3.11", (usr / "lib/python3.11", usr / "lib/python3.11/lib-dynload"), shared=False
    )
    binds = (
        (usr / "bin/python3.11", f"{PYTHON_HOME}/bin/python3.11"),
        (usr / "lib/python3.11", f"{PYTHON_HOME}/lib/python3.11"),
    )
    assert found == Interpreter(f"{PYTHON_HOME}/bin/python3.11 -IS", binds)
    fedora = interpreter(usr, usr / "bin/python3.12", (usr / "lib64/python3.12", usr / "lib/python3.12"), shared=False)
    assert [dest for _, dest in fedora.binds] == [
        f"{PYTHON_HOME}/bin/python3.12",
        f"{PYTHON_HOME}/lib/python3.12",
        f"{PYTHON_HOME}/lib64/python3.12",
    ]


def test_a_shared_libpython_outside_the_system_prefixes_is_bound_at_its_own_path() -> None:
    prefix = Path("/opt/python")
    found = interpreter(prefix, prefix / "bin/python3.11", (prefix / "lib/python3.11",), shared=True)
    assert found == Interpreter(f"{prefix}/bin/python3.11 -IS", ((prefix, str(prefix)),))


def test_a_system_python_that_cannot_be_relocated_leaves_it_to_the_image() -> None:
    for prefix in (Path("/usr"), Path("/usr/local"), Path("/")):
        shared = interpreter(prefix, prefix / "bin/python3.11", (prefix / "lib/python3.11",), shared=True)
        assert shared == Interpreter("/usr/bin/env python3")
    # a library outside the prefix cannot be placed relative to a relocated executable
    odd = interpreter(Path("/usr"), Path("/usr/bin/python3.11"), (Path("/opt/lib/python3.11"),), shared=False)
    assert odd == Interpreter("/usr/bin/env python3")


def test_a_shared_libpython_is_read_from_the_process_maps(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.write_text(
        "55d0-55d1 r--p 00000000 08:01 12 /opt/python/bin/python3.11\n"
        "7f00-7f01 r-xp 00000000 08:01 13 /opt/python/lib/libpython3.11.so.1.0\n"
        "7f02-7f03 rw-p 00000000 00:00 0 \n"
    )
    assert links_libpython(maps)
    maps.write_text("55d0-55d1 r--p 00000000 08:01 12 /usr/bin/python3.11\n7f00-7f01 r-xp 0 08:01 14 [vdso]\n")
    assert not links_libpython(maps)
    assert links_libpython(tmp_path / "absent")  # unknown: not relocated


def test_the_bundle_runs_alone_from_anywhere(tmp_path: Path) -> None:
    bundle = tmp_path / "apiclient"
    bundle.write_bytes(build_bundle(f"{sys.executable} -IS"))
    bundle.chmod(0o755)
    env = {"PATH": os.defpath, "PYTHONPATH": str(tmp_path / "nothing")}
    done = subprocess.run(
        [str(bundle), "-s", str(tmp_path / "api.sock"), "get", "settings.motd"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "Unable to connect to the API socket" in done.stderr, done.stderr
    names = zipfile.ZipFile(bundle).namelist()
    assert {"__main__.py", "thar/__init__.py", "thar/paths.py", "thar/logs.py", "thar/apiclient/cli.py"} <= set(names)
    assert not [n for n in names if n.split("/")[0] not in ("__main__.py", "thar", "toml")]
    assert not [n for n in names if n.startswith("thar/") and n.count("/") == 1 and n not in
                ("thar/__init__.py", "thar/paths.py", "thar/logs.py")]  # fmt: skip
    assert build_bundle(f"{sys.executable} -IS") == bundle.read_bytes()  # the same bytes each time


def test_the_mounts_bind_the_bundle_and_its_interpreter(tmp_path: Path) -> None:
    python = host_interpreter()
    mounts = apiclient_mounts(tmp_path, python)
    bundle = tmp_path / BUNDLE
    assert mounts[0] == Mount(bundle, "/usr/local/bin/apiclient", ("bind", "ro"))
    assert mounts[1:] == [Mount(source, dest, ("rbind", "ro")) for source, dest in python.binds]
    assert bundle.stat().st_mode & 0o777 == 0o755
    assert bundle.read_bytes().startswith(f"#!{python.shebang}\n".encode())
