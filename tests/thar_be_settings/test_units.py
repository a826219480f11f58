"""thar-be-settings' parts on their own: the command line, modes, atomic writes, restart
commands and their per-service queue, the pure planner and its diff, the sandbox helpers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from thar.sandbox.prepare import install_templates
from thar.thar_be_settings.api import encode_query_value
from thar.thar_be_settings.applier import Options, parse_keys, reload_systemd
from thar.thar_be_settings.cli import parse_args
from thar.thar_be_settings.config import ConfigFile, Service, parse_files, resolve
from thar.thar_be_settings.errors import (
    InputError,
    ModeError,
    ReloadFailed,
    RenderFailed,
    RestartFailed,
    RestartSpawnFailed,
    UsageError,
)
from thar.thar_be_settings.plan import diff_plan, plan_apply, plan_for_model
from thar.thar_be_settings.restart import RestartQueue, run_commands, split_command
from thar.thar_be_settings.writer import parse_mode, write_file

THAR_BE_SETTINGS = str(Path(sys.executable).parent / "thar-be-settings")


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "THAR_ROOT"}
    return subprocess.run([THAR_BE_SETTINGS, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)


# -- command line ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [["--bogus"], ["settings.motd"], ["--log-level"], ["--socket-path"], ["--log-level", "loud"], ["--root"]],
)
def test_usage_errors_exit_2_with_the_usage(argv: list[str]) -> None:
    done = run_cli(*argv)
    assert done.returncode == 2
    assert "Usage: thar-be-settings" in done.stderr and done.stdout == ""


def test_repeated_options_last_wins_and_levels_are_case_insensitive() -> None:
    args = parse_args(["--socket-path", "/a", "--log-level", "DEBUG", "--socket-path", "/b", "--all"])
    assert (args.socket_path, args.log_level, args.all) == ("/b", "debug", True)


def test_stdin_that_is_not_a_json_array_of_strings_exits_1() -> None:
    done = run_cli("--socket-path", "/nonexistent/api.sock", stdin='{"a": 1}')
    assert done.returncode == 1
    assert done.stderr.startswith("Input must be a JSON array of strings - input '{\"a\": 1}'")


def test_an_unreachable_api_exits_1_naming_the_socket() -> None:
    done = run_cli("--socket-path", "/nonexistent/api.sock", stdin='["settings.motd"]')
    assert done.returncode == 1 and "/nonexistent/api.sock" in done.stderr
    assert done.stderr.count("\n") == 1  # the message once


def test_daemon_parent_exits_0_at_once() -> None:
    done = run_cli("--daemon", "--all", "--socket-path", "/nonexistent/api.sock", "--log-level", "off")
    assert done.returncode == 0


@pytest.mark.parametrize(
    ("raw", "keys"),
    [('["b", "a", "b"]', ["b", "a"]), ("[]", []), ('["settings.motd"]', ["settings.motd"])],
)
def test_keys_are_a_set(raw: str, keys: list[str]) -> None:
    assert parse_keys(raw) == keys


@pytest.mark.parametrize("raw", ["", "nope", "[1]", '"a"', '["a", null]'])
def test_bad_keys_are_rejected(raw: str) -> None:
    with pytest.raises(InputError):
        parse_keys(raw)


def test_query_values_keep_commas_and_encode_the_rest() -> None:
    assert encode_query_value('settings.a,settings.b."x y"#<>') == "settings.a,settings.b.%22x%20y%22%23%3C%3E"
    assert encode_query_value("é") == "%C3%A9"


# -- modes and writes -----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "mode"), [(None, 0o644), ("0600", 0o600), ("600", 0o600), ("+0640", 0o640)])
def test_modes_are_octal(text: str | None, mode: int) -> None:
    assert parse_mode("/etc/x", text) == mode


@pytest.mark.parametrize("text", ["0o600", "", "8", "+", "-600", "0x1ff", "77777"])
def test_bad_modes_name_the_file_and_mode(text: str) -> None:
    with pytest.raises(ModeError, match=f"Failed to set template /etc/x to mode {text}"):
        parse_mode("/etc/x", text)


def test_write_creates_directories_and_applies_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.toml"
    assert write_file(target, "x = 1\n", 0o600)
    assert target.read_text() == "x = 1\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.toml"]  # no temporary left


def test_write_replaces_atomically_and_reapplies_the_mode_every_time(tmp_path: Path) -> None:
    target = tmp_path / "file"
    write_file(target, "old\n", 0o600)
    with open(target) as reader:  # a reader of the old file keeps seeing it whole
        os.chmod(target, 0o666)
        assert write_file(target, "new\n", 0o600)
        assert reader.read() == "old\n"
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
    os.chmod(target, 0o666)
    inode = target.stat().st_ino
    assert not write_file(target, "new\n", 0o600)  # same bytes: not rewritten, mode fixed
    assert target.stat().st_ino == inode and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_text("old")
    link = tmp_path / "link"
    link.symlink_to(real)
    write_file(link, "new", 0o644)
    assert link.is_symlink() and real.read_text() == "new"


def test_resolve_keeps_paths_under_the_root(tmp_path: Path) -> None:
    assert resolve(tmp_path, "/etc/motd") == tmp_path / "etc/motd"
    assert resolve(tmp_path, "/../../etc/motd") == tmp_path / "etc/motd"
    assert resolve(None, "/etc/motd") == Path("/etc/motd")


# -- restart commands -----------------------------------------------------------------------------
RECORDER = textwrap.dedent(
    """\
    import json, os, sys, time
    log, running = sys.argv[1], sys.argv[1] + ".running"
    fd = os.open(running, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if two runs overlap
    time.sleep(float(sys.argv[2]))
    with open(log, "a") as f:
        f.write(json.dumps({"argv": sys.argv[3:], "changed": os.environ.get("CHANGED_SETTINGS")}) + "\\n")
    os.close(fd)
    os.unlink(running)
    """
)


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[str, Path]:
    """A restart command prefix `python recorder.py LOG SLEEP` and its log (one JSON line per run)."""
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    log = tmp_path / "runs.jsonl"
    return f"{sys.executable} {script} {log}", log


def _runs(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_commands_split_on_every_single_space() -> None:
    assert split_command("a  b c") == ["a", "", "b", "c"]


def test_commands_run_in_order_with_changed_settings(recorder: tuple[str, Path]) -> None:
    prefix, log = recorder
    run_commands([f"{prefix} 0 first", f"{prefix} 0 second"], ["settings.a", "settings.b"])
    assert _runs(log) == [
        {"argv": ["first"], "changed": "settings.a settings.b"},
        {"argv": ["second"], "changed": "settings.a settings.b"},
    ]
    run_commands([f"{prefix} 0 all"], None)
    assert _runs(log)[-1] == {"argv": ["all"], "changed": None}


def test_a_failing_command_stops_the_rest(recorder: tuple[str, Path]) -> None:
    prefix, log = recorder
    with pytest.raises(RestartFailed, match="Restart command failed - 'false x'"):
        run_commands(["false x", f"{prefix} 0 never"], None)
    assert _runs(log) == []
    with pytest.raises(RestartSpawnFailed, match="Failed to run restart command - '/nonexistent/cmd x'"):
        run_commands(["/nonexistent/cmd x"], None)
    with pytest.raises(RestartSpawnFailed):
        run_commands([" leading-space"], None)


def test_a_queued_restart_absorbs_later_ones(tmp_path: Path) -> None:
    queue = RestartQueue(tmp_path)
    marker = queue.enqueue("svc", ["settings.a"])
    assert marker is not None
    assert queue.enqueue("svc", ["settings.b", "settings.a"]) is None  # coalesced into the queued one
    assert queue.enqueue("other", ["settings.c"]) is not None  # per service
    assert queue.take("svc", marker) == ["settings.a", "settings.b"]
    again = queue.enqueue("svc", ["settings.d"])  # after it started, a new restart is queued
    assert again is not None
    assert queue.enqueue("svc", None) is None
    assert queue.take("svc", again) is None  # an --all change: every setting, no CHANGED_SETTINGS


def test_a_dead_appliers_marker_is_taken_over(tmp_path: Path) -> None:
    queue = RestartQueue(tmp_path)
    (tmp_path / "svc.pending").write_text("settings.lost\n")  # nobody holds it
    marker = queue.enqueue("svc", ["settings.new"])
    assert marker is not None
    assert queue.take("svc", marker) == ["settings.lost", "settings.new"]


def test_concurrent_restarts_of_a_service_never_overlap(tmp_path: Path, recorder: tuple[str, Path]) -> None:
    prefix, log = recorder
    program = textwrap.dedent(
        f"""\
        import sys
        from pathlib import Path
        from thar.thar_be_settings.restart import RestartQueue
        RestartQueue(Path({str(tmp_path / "q")!r})).restart("svc", [{prefix!r} + " 0.2 run"], [sys.argv[1]], None)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", program, f"settings.k{i}"]) for i in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]  # an overlap would fail the recorder
    runs = _runs(log)
    delivered = [key for run in runs for key in run["changed"].split()]
    assert sorted(delivered) == [f"settings.k{i}" for i in range(4)]  # each change restarted once
    assert 1 <= len(runs) <= 4


# -- the planner ----------------------------------------------------------------------------------
MODEL = {"settings": {"motd": "hi", "ntp": {"time-servers": ["a.example"]}}, "os": {"arch": "x86_64"}}


def _templates(root: Path) -> None:
    templates = root / "usr/share/templates"
    templates.mkdir(parents=True)
    (templates / "motd").write_text('[required-extensions]\nmotd = "v1"\n+++\n{{settings.motd}}\n')
    (templates / "unit").write_text('[required-extensions]\nntp = "v1"\n+++\n{{settings.ntp.time-servers.0}}\n')
    (templates / "bad").write_text('[required-extensions]\nntp = "v1"\n+++\n{{settings.motd}}\n')


FILES = parse_files(
    {
        "motd": {"path": "/etc/motd", "template-path": "/usr/share/templates/motd"},
        "unit": {"path": "/etc/systemd/system/x.conf", "template-path": "/usr/share/templates/unit", "mode": "0600"},
    }
)
SERVICES = {
    "motd": Service("motd", ("motd",), ()),
    "chronyd": Service("chronyd", ("unit",), ("restart chronyd",)),
}


def test_plan_is_a_function_of_model_services_and_files(tmp_path: Path) -> None:
    _templates(tmp_path)
    plan = plan_apply(MODEL, SERVICES, FILES, changed={"chronyd": ["settings.ntp"]}, root=tmp_path)
    assert [(p.file.name, p.target, p.content, p.mode) for p in plan.files] == [
        ("motd", tmp_path / "etc/motd", "hi\n", 0o644),
        ("unit", tmp_path / "etc/systemd/system/x.conf", "a.example\n", 0o600),
    ]
    assert plan.reload_systemd and plan.failures == ()
    assert [(r.service, r.commands, r.changed_settings) for r in plan.restarts] == [
        ("motd", (), ()),
        ("chronyd", ("restart chronyd",), ("settings.ntp",)),
    ]
    assert not (tmp_path / "etc").exists()  # planning writes nothing
    everything = plan_apply(MODEL, SERVICES, FILES, root=tmp_path, strict=False)
    assert not everything.reload_systemd and everything.restarts[1].changed_settings is None


def test_strict_plans_stop_at_the_first_failure_and_lenient_ones_collect_them(tmp_path: Path) -> None:
    _templates(tmp_path)
    files = {**FILES, "bad": ConfigFile("bad", "/etc/bad", "/usr/share/templates/bad")}
    with pytest.raises(RenderFailed, match="Configuration file 'bad' failed to render: "):
        plan_apply(MODEL, SERVICES, files, changed={}, root=tmp_path)
    missing = {"gone": ConfigFile("gone", "/etc/gone", "/usr/share/templates/gone")}
    plan = plan_apply(MODEL, SERVICES, {**files, **missing}, root=tmp_path, strict=False)
    assert [p.file.name for p in plan.files] == ["motd", "unit"]
    assert [name for name, _ in plan.failures] == ["bad", "gone"]


def test_the_diff_shows_changed_new_and_mode_only_files(tmp_path: Path) -> None:
    _templates(tmp_path)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/motd").write_text("old\n")
    plan = plan_apply(MODEL, SERVICES, FILES, changed={"chronyd": ["settings.ntp"]}, root=tmp_path)
    text = diff_plan(plan)
    assert f"--- {tmp_path}/etc/motd\n+++ {tmp_path}/etc/motd\n" in text and "-old\n+hi\n" in text
    assert "new file" in text and "+a.example\n" in text
    assert "# would run: systemctl daemon-reload\n" in text
    assert "# would restart chronyd: CHANGED_SETTINGS='settings.ntp' restart chronyd\n" in text
    (tmp_path / "etc/motd").write_text("hi\n")
    os.chmod(tmp_path / "etc/motd", 0o600)
    assert "mode of" in diff_plan(plan) and "-old" not in diff_plan(plan)


def test_install_templates_copies_a_variants_templates(tmp_path: Path) -> None:
    variant = tmp_path / "variant"
    (variant / "templates").mkdir(parents=True)
    (variant / "templates" / "motd").write_text("x")
    installed = install_templates(variant, tmp_path / "root")
    assert installed == [tmp_path / "root/usr/share/templates/motd"]
    assert installed[0].read_text() == "x"
    assert install_templates(tmp_path / "none", tmp_path / "root") == []


def test_usage_error_is_an_applier_error() -> None:
    with pytest.raises(UsageError):
        parse_args(["--nope"])


def test_a_whole_model_plans_for_the_affected_services(tmp_path: Path) -> None:
    _templates(tmp_path)
    model = {
        **MODEL,
        "services": {
            "motd": {"configuration-files": ["motd"], "restart-commands": []},
            "chronyd": {"configuration-files": ["unit"], "restart-commands": ["restart chronyd"]},
        },
        "configuration-files": {
            "motd": {"path": "/etc/motd", "template-path": "/usr/share/templates/motd"},
            "unit": {"path": "/etc/systemd/system/x.conf", "template-path": "/usr/share/templates/unit"},
        },
    }
    plan = plan_for_model(model, {"settings.ntp.time-servers": ["chronyd"]}, root=tmp_path)
    assert [p.file.name for p in plan.files] == ["unit"] and plan.reload_systemd
    assert [(r.service, r.changed_settings) for r in plan.restarts] == [("chronyd", ("settings.ntp.time-servers",))]
    everything = plan_for_model(model, root=tmp_path)
    assert [p.file.name for p in everything.files] == ["motd", "unit"] and not everything.reload_systemd
    assert [r.service for r in everything.restarts] == ["motd", "chronyd"]


def test_a_failing_systemd_reload_is_reported_and_a_sandbox_never_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "systemctl"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho "unit files broken" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ReloadFailed, match="Reload command failed - 'systemctl daemon-reload': unit files broken"):
        reload_systemd(Options(socket_path="/unused", root=None))
    assert calls.read_text() == "daemon-reload\n"
    reload_systemd(Options(socket_path="/unused", root=tmp_path))  # a sandbox root: not run
    assert calls.read_text() == "daemon-reload\n"
