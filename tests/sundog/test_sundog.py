"""sundog end to end: the real apiserver in a sandbox, generators as real programs, the
``sundog`` command as a process (spec/sundog.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.early_boot_config.sandbox import MakeSandbox, Sandbox
from tests.sundog.conftest import DEFAULTS, Fresh


def script(tmp_path: Path, name: str, body: str) -> str:
    """An executable shell script; its path (to use as a generator command)."""
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def sandbox_with(make_sandbox: MakeSandbox, generators: dict[str, object], **kwargs: object) -> Sandbox:
    return make_sandbox(defaults=DEFAULTS, generators=generators, **kwargs)


def test_generated_values_are_staged_in_the_launch_transaction(tmp_path: Path, fresh: Fresh) -> None:
    motd = script(tmp_path, "motd-gen", "printf '  \"generated motd\"\\n\\n'")
    seed = script(tmp_path, "seed-gen", "echo 42; echo 'a note' >&2")
    sandbox = fresh({"settings.motd": motd, "settings.updates.seed": seed})
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    pending = sandbox.pending()
    assert pending["motd"] == "generated motd"
    assert pending["updates"]["seed"] == 42
    assert pending["updates"]["version-lock"] == "latest"  # the defaults are still there
    assert "settings" not in sandbox.live()  # sundog does not commit
    assert "Setting generator command 'seed-gen' stderr: a note" in result.stdout


def test_each_generator_logs_its_duration(tmp_path: Path, fresh: Fresh) -> None:
    seed = script(tmp_path, "seed-gen", "echo 7")
    sandbox = fresh({"settings.updates.seed": seed})
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    assert f"Generator for 'settings.updates.seed' ('{seed}') exited 0 after" in result.stdout
    assert "Generators done in" in result.stdout and "settings.updates.seed generated" in result.stdout


def test_each_generator_outcome_and_duration_goes_to_the_timeline_file(tmp_path: Path, fresh: Fresh) -> None:
    skip = script(tmp_path, "skipper", "exit 2")
    seed = script(tmp_path, "seed-gen", "sleep 0.05; echo 7")
    sandbox = fresh({"settings.motd": skip, "settings.updates.seed": seed})
    timeline = sandbox.root / "run/thar/generators.json"
    timeline.unlink(missing_ok=True)
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    data = json.loads(timeline.read_text())
    outcomes = {g["setting"]: (g["result"], g["seconds"]) for g in data["generators"]}
    assert outcomes["settings.motd"][0] == "skipped"
    assert outcomes["settings.updates.seed"][0] == "generated"
    assert 0.05 <= outcomes["settings.updates.seed"][1] <= data["total"]
    # --timeline none writes nothing
    timeline.unlink()
    assert sandbox.run("sundog", "--timeline", "none").returncode == 0
    assert not timeline.exists()


def test_exit_code_2_skips_the_setting(tmp_path: Path, fresh: Fresh) -> None:
    skip = script(tmp_path, "skipper", "exit 2")
    seed = script(tmp_path, "seed-gen", "echo 5")
    sandbox = fresh({"settings.motd": skip, "settings.updates.seed": seed})
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    assert "'skipper' returned 2, not setting 'settings.motd'" in result.stdout
    pending = sandbox.pending()
    assert pending["motd"] == "default motd"
    assert pending["updates"]["seed"] == 5


@pytest.mark.parametrize(
    ("code", "wording"), [(1, "failed with exit code 1"), (3, "returned unexpected exit code '3'")]
)
def test_a_failing_generator_is_named_with_its_stderr(tmp_path: Path, fresh: Fresh, code: int, wording: str) -> None:
    good = script(tmp_path, "seed-gen", "echo 9")
    bad = script(tmp_path, "hostname-gen", f"echo 'cannot reach the metadata service' >&2; exit {code}")
    sandbox = fresh({"settings.network.hostname": bad, "settings.updates.seed": good})
    before = sandbox.pending()
    result = sandbox.run("sundog")
    assert result.returncode == 1
    message = result.stderr.strip()
    assert f"Setting generator '{bad}' for setting 'settings.network.hostname' {wording}" in message
    assert "stderr: cannot reach the metadata service" in message
    assert sandbox.pending() == before  # an abort sends nothing, not even the good result


def test_a_generator_killed_by_a_signal_fails(tmp_path: Path, fresh: Fresh) -> None:
    bad = script(tmp_path, "suicidal", "kill -9 $$")
    sandbox = fresh({"settings.motd": bad})
    result = sandbox.run("sundog")
    assert result.returncode == 1
    assert "was killed by signal 9" in result.stderr


def test_a_generator_that_overruns_the_timeout_is_killed(tmp_path: Path, fresh: Fresh) -> None:
    # Not exec: the shell's child holds the pipes too, and must be killed with it.
    slow = script(tmp_path, "slow-gen", "echo 'waiting for the network' >&2; sleep 60; echo 1")
    sandbox = fresh({"settings.motd": slow})
    before = sandbox.pending()
    result = sandbox.run("sundog", "--timeout", "0.5")
    assert result.returncode == 1
    assert f"Timed-out waiting for settings generator '{slow}' for setting 'settings.motd' after 0.5 s" in result.stderr
    assert "waiting for the network" in result.stderr
    assert sandbox.pending() == before


@pytest.mark.parametrize(
    ("output", "reason"),
    [("hello there", "Expecting value"), ("", "empty output"), ('"a" "b"', "Extra data"), ("NaN", "NaN")],
)
def test_output_must_be_one_json_value(tmp_path: Path, fresh: Fresh, output: str, reason: str) -> None:
    gen = script(tmp_path, "text-gen", f"printf '%s' '{output}'")
    sandbox = fresh({"settings.motd": gen})
    result = sandbox.run("sundog")
    assert result.returncode == 1
    assert "Error deserializing command output as JSON" in result.stderr
    assert reason in result.stderr


def test_null_output_sets_nothing(tmp_path: Path, fresh: Fresh) -> None:
    gen = script(tmp_path, "null-gen", "echo null")
    sandbox = fresh({"settings.motd": gen})
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    assert sandbox.pending()["motd"] == "default motd"


def test_a_value_the_model_rejects_fails_with_the_setting_named(tmp_path: Path, fresh: Fresh) -> None:
    gen = script(tmp_path, "seed-gen", "echo '\"not a number\"'")
    sandbox = fresh({"settings.updates.seed": gen})
    result = sandbox.run("sundog")
    assert result.returncode == 1
    assert "settings.updates.seed" in result.stderr and "integer" in result.stderr
    assert "seed" not in sandbox.pending()["updates"]


def test_populated_settings_are_skipped(tmp_path: Path, make_sandbox: MakeSandbox) -> None:
    # Would fail if it ran: the setting is live, so it must not.
    failing = script(tmp_path, "never", "echo 'must not run' >&2; exit 1")
    seed = script(tmp_path, "seed-gen", "echo 11")
    sandbox = sandbox_with(
        make_sandbox,
        {"settings.motd": failing, "settings.updates.seed": seed},
        live={"settings.motd": "from the user"},
    )
    result = sandbox.run("sundog", "--log-level", "debug")
    assert result.returncode == 0, result.stderr
    assert "Setting 'settings.motd' is already populated, skipping" in result.stdout
    assert sandbox.pending()["updates"]["seed"] == 11


def test_a_struct_setting_is_populated_by_any_key_below_it(tmp_path: Path, make_sandbox: MakeSandbox) -> None:
    failing = script(tmp_path, "never", "exit 1")
    sandbox = sandbox_with(make_sandbox, {"settings.ntp": failing}, live={"settings.ntp.time-servers": ["a.example"]})
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr


def test_a_struct_valued_generator(tmp_path: Path, fresh: Fresh) -> None:
    gen = script(tmp_path, "ntp-gen", """echo '{"time-servers": ["time.example"], "options": ["iburst"]}'""")
    sandbox = fresh({"settings.ntp": gen})
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    assert sandbox.pending()["ntp"] == {"time-servers": ["time.example"], "options": ["iburst"]}


def test_the_table_form_can_run_on_populated_settings(tmp_path: Path, make_sandbox: MakeSandbox) -> None:
    motd = script(tmp_path, "motd-gen", "echo '\"regenerated\"'")
    seed = script(tmp_path, "seed-gen", "exit 1")
    sandbox = sandbox_with(
        make_sandbox,
        {
            "settings.motd": {"command": motd, "skip-if-populated": False},
            "settings.updates.seed": {"command": seed, "strength": "weak"},  # skip-if-populated defaults to true
        },
        live={"settings.motd": "old", "settings.updates.seed": 3},
    )
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    assert sandbox.pending()["motd"] == "regenerated"


def test_a_table_form_with_an_unknown_field_is_rejected(tmp_path: Path, fresh: Fresh) -> None:
    motd = script(tmp_path, "motd-gen", "echo '\"x\"'")
    sandbox = fresh({"settings.motd": {"command": motd, "retries": "3"}})
    result = sandbox.run("sundog")
    assert result.returncode == 1
    assert "unknown field(s) retries" in result.stderr
    assert sandbox.pending()["motd"] == "default motd"


def test_arguments_are_split_like_a_shell_without_one(tmp_path: Path, fresh: Fresh) -> None:
    gen = script(tmp_path, "args-gen", 'printf \'"%s|%s|%s"\' "$#" "$1" "$2"')
    sandbox = fresh({"settings.motd": f"""{gen} 'two words' "\\$HOME;x" """})
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    assert sandbox.pending()["motd"] == "2|two words|$HOME;x"


def test_proxy_settings_reach_the_generators(tmp_path: Path, make_sandbox: MakeSandbox) -> None:
    gen = script(tmp_path, "env-gen", 'printf \'"%s %s %s %s"\' "$https_proxy" "$HTTPS_PROXY" "$no_proxy" "$NO_PROXY"')
    sandbox = sandbox_with(
        make_sandbox,
        {"settings.motd": gen},
        live={
            "settings.network.https-proxy": "http://proxy.example:3128",
            "settings.network.no-proxy": ["internal.example"],
        },
    )
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    no_proxy = "localhost,127.0.0.1,internal.example"
    assert sandbox.pending()["motd"] == f"http://proxy.example:3128 http://proxy.example:3128 {no_proxy} {no_proxy}"


def test_without_a_proxy_no_proxy_variables_are_added(tmp_path: Path, fresh: Fresh) -> None:
    gen = script(tmp_path, "env-gen", 'printf \'"[%s]"\' "${HTTPS_PROXY-unset}"')
    sandbox = fresh({"settings.motd": gen})
    result = sandbox.run("sundog", env={"HTTPS_PROXY": ""})
    assert result.returncode == 0, result.stderr
    assert sandbox.pending()["motd"] == "[]"


def test_a_missing_program_is_named(tmp_path: Path, fresh: Fresh) -> None:
    sandbox = fresh({"settings.motd": str(tmp_path / "no-such-generator")})
    result = sandbox.run("sundog")
    assert result.returncode == 1
    assert "Failed to start generator" in result.stderr and "settings.motd" in result.stderr


def test_builtin_generators_stand_in_for_missing_programs(tmp_path: Path, fresh: Fresh) -> None:
    sandbox = fresh({"settings.updates.seed": "bork seed", "settings.network.hostname": "netdog generate-hostname"})
    empty = tmp_path / "empty-path"
    empty.mkdir()
    assert shutil.which("bork", path=str(empty)) is None
    result = sandbox.run("sundog", env={"PATH": str(empty)})
    assert result.returncode == 0, result.stderr
    pending = sandbox.pending()
    assert 0 <= pending["updates"]["seed"] < 2048
    assert isinstance(pending["network"]["hostname"], str) and pending["network"]["hostname"]
    assert "ran thar's built-in 'bork seed'" in result.stdout


def test_a_program_on_path_wins_over_the_builtin(tmp_path: Path, fresh: Fresh) -> None:
    script(tmp_path, "bork", 'test "$1" = seed && echo 2047')
    sandbox = fresh({"settings.updates.seed": "bork seed"})
    result = sandbox.run("sundog", env={"PATH": str(tmp_path / "bin")})
    assert result.returncode == 0, result.stderr
    assert sandbox.pending()["updates"]["seed"] == 2047


def test_no_generators_means_nothing_to_do(fresh: Fresh) -> None:
    sandbox = fresh({})
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    assert "No settings to generate, exiting" in result.stdout
    assert "Sending settings values" not in result.stdout


def test_the_variant_generators_fill_their_settings_in_a_sandbox(make_sandbox: MakeSandbox) -> None:
    """thar-dev's own generators (built-in netdog and bork, a templated one) after the launch
    transaction is committed, as the sundog unit runs (settings-committer first)."""
    sandbox = make_sandbox("thar-dev")
    sandbox.commit()
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    os_info = sandbox.client().get_json("/os")
    pending = sandbox.pending()
    assert isinstance(pending["updates"]["seed"], int)
    assert pending["network"]["hostname"]
    base_url = f"http://127.0.0.1:8000/2020-07-07/{os_info['variant_id']}/{os_info['arch']}/"
    assert pending["updates"]["metadata-base-url"] == base_url


def test_a_templated_setting_sees_committed_settings(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(
        defaults=DEFAULTS,
        generators={
            "settings.motd": "schnauzer-v2 render --requires 'updates@v1' "
            "--template '{{ settings.updates.version-lock }} on {{ os.arch }}'",
        },
        live={"settings.updates.version-lock": "v1.2.3"},
    )
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    arch = sandbox.client().get_json("/os")["arch"]
    assert sandbox.pending()["motd"] == f"v1.2.3 on {arch}"
    assert "Rendered the template of 'settings.motd'" in result.stdout


def test_a_template_that_cannot_render_fails_naming_the_setting(fresh: Fresh) -> None:
    command = "schnauzer-v2 render --requires 'ntp@v1' --template '{{ settings.ntp.time-servers }}'"
    sandbox = fresh({"settings.motd": command})
    before = sandbox.pending()
    result = sandbox.run("sundog")
    assert result.returncode == 1
    assert f"Setting generator '{command}' for setting 'settings.motd' failed with exit code 1" in result.stderr
    assert "time-servers" in result.stderr
    assert sandbox.pending() == before


def test_bad_schnauzer_arguments_fail_the_generator(fresh: Fresh) -> None:
    sandbox = fresh({"settings.motd": "schnauzer-v2 render --requires 'motd@v1'"})
    result = sandbox.run("sundog")
    assert result.returncode == 1
    assert "for setting 'settings.motd'" in result.stderr and "--template" in result.stderr


def test_a_legacy_template_is_rendered_against_the_live_model(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(
        defaults=DEFAULTS,
        generators={"settings.updates.metadata-base-url": "schnauzer settings.updates.metadata-base-url"},
        templates={"settings.updates.metadata-base-url": "https://updates.example/{{ os.arch }}/{{ settings.motd }}/"},
        live={"settings.motd": "m"},
    )
    result = sandbox.run("sundog")
    assert result.returncode == 0, result.stderr
    arch = sandbox.client().get_json("/os")["arch"]
    assert sandbox.pending()["updates"]["metadata-base-url"] == f"https://updates.example/{arch}/m/"


def test_unknown_arguments_are_a_usage_error(fresh: Fresh) -> None:
    sandbox = fresh({})
    result = sandbox.run("sundog", "--frobnicate")
    assert result.returncode == 2
    assert "usage: sundog" in result.stderr


def test_no_server_is_an_error_naming_the_socket(tmp_path: Path) -> None:
    import subprocess
    import sys

    socket = tmp_path / "none.sock"
    result = subprocess.run(
        [sys.executable, "-m", "thar.sundog", "--socket-path", str(socket)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert str(socket) in result.stderr and "is the apiserver running?" in result.stderr
    assert json.dumps(str(socket)).strip('"') in result.stderr
