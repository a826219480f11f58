"""`thar-record-restart` in its two forms, the console script and the shell script a sandbox
installs (`install_restart_recorder`): the same log lines, exit statuses and messages."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from thar.sandbox.prepare import install_restart_recorder
from thar.thar_be_settings.record_restart import SCRIPT

CONSOLE_SCRIPT = str(Path(sys.executable).parent / "thar-record-restart")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


@pytest.fixture(params=["console-script", "shell-script"])
def recorder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "console-script":
        return CONSOLE_SCRIPT
    return str(install_restart_recorder(tmp_path_factory.mktemp("sandbox")))


def record(
    recorder: str, *args: str, root: Path | None, changed: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("THAR_ROOT", "CHANGED_SETTINGS")}
    if root is not None:
        env["THAR_ROOT"] = str(root)
    if changed is not None:
        env["CHANGED_SETTINGS"] = changed
    return subprocess.run([recorder, *args], capture_output=True, text=True, env=env, timeout=30)


def log_lines(root: Path) -> list[str]:
    return (root / "run/thar/restarts.log").read_text(encoding="utf-8").split("\n")


def test_each_restart_is_one_line_with_the_time_the_service_and_the_changed_settings(
    recorder: str, tmp_path: Path
) -> None:
    ntp = "settings.ntp.time-servers settings.ntp.options"
    assert record(recorder, "chronyd", root=tmp_path, changed=ntp).returncode == 0
    assert record(recorder, "containerd", root=tmp_path).returncode == 0
    assert record(recorder, "motd", root=tmp_path, changed="").returncode == 0
    assert record(recorder, "sysctl", root=tmp_path, changed="settings.kernel.sysctl \t ").returncode == 0
    *lines, last = log_lines(tmp_path)
    assert last == ""  # every line ends with a newline
    assert [STAMP.fullmatch(line.split(" ", 1)[0]) is not None for line in lines] == [True] * 4
    assert [line.split(" ", 1)[1] for line in lines] == [
        "chronyd settings.ntp.time-servers settings.ntp.options",
        "containerd",
        "motd",
        "sysctl settings.kernel.sysctl",  # trailing blanks are dropped
    ]


def test_both_forms_write_the_same_lines_to_one_log(tmp_path: Path) -> None:
    shell = str(install_restart_recorder(tmp_path / "bin-root"))
    for program in (CONSOLE_SCRIPT, shell, CONSOLE_SCRIPT):
        assert record(program, "pki", root=tmp_path, changed="settings.pki.x").returncode == 0
    lines = [line.split(" ", 1) for line in log_lines(tmp_path) if line]
    assert [rest for _, rest in lines] == ["pki settings.pki.x"] * 3
    assert [stamp for stamp, _ in lines] == sorted(stamp for stamp, _ in lines)


@pytest.mark.parametrize("args", [(), ("a", "b"), ("-x",), ("-h", "chronyd"), ("",)])
def test_anything_but_one_service_is_a_usage_error(recorder: str, tmp_path: Path, args: tuple[str, ...]) -> None:
    done = record(recorder, *args, root=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "usage: thar-record-restart SERVICE\n")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_prints_the_usage_on_stdout_and_exits_0(recorder: str, tmp_path: Path, flag: str) -> None:
    done = record(recorder, flag, root=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "usage: thar-record-restart SERVICE\n", "")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("blocker", "reason"), [("run/thar/restarts.log/x", "Is a directory"), ("run", "Not a directory")]
)
def test_a_log_that_cannot_be_written_exits_1_naming_it(
    recorder: str, tmp_path: Path, blocker: str, reason: str
) -> None:
    if blocker.endswith("/x"):
        (tmp_path / blocker).mkdir(parents=True)
    else:
        (tmp_path / blocker).write_text("a file where a directory should be")
    done = record(recorder, "chronyd", root=tmp_path)
    log = tmp_path / "run/thar/restarts.log"
    assert (done.returncode, done.stderr) == (1, f"thar-record-restart: cannot write {log}: {reason}\n")


def test_the_shell_script_is_installed_executable_and_replaced_when_it_differs(tmp_path: Path) -> None:
    path = install_restart_recorder(tmp_path)
    assert path == tmp_path / "usr/bin/thar-record-restart"
    assert path.read_text(encoding="utf-8") == SCRIPT and SCRIPT.startswith("#!/bin/sh\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    path.write_text("#!/bin/sh\nexit 3\n")
    assert install_restart_recorder(tmp_path).read_text(encoding="utf-8") == SCRIPT
    assert [p.name for p in path.parent.iterdir()] == ["thar-record-restart"]  # no temporary file left
