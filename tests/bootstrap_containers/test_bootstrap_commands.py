"""``bootstrap-commands`` (Bottlerocket's sources/bootstrap-commands) against the real
apiserver of a sandbox: entries in name order, off skipped, once set to off after it ran,
always kept, an essential failure ending the run with status 1 and a message naming the
entry and the command, a non-essential one logged and passed over."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.thar_be_settings.conftest import Sandbox

from .conftest import run_program, settings

MakeSandbox = Callable[..., Sandbox]


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox("thar-dev")


def configure(sandbox: Sandbox, commands: dict[str, Any]) -> None:
    """``settings.bootstrap-commands`` through the API, then wait until thar-be-settings has
    rendered it for every entry."""
    done = sandbox.run(
        "apiclient", "--socket-path", str(sandbox.socket), "set", "--json", json.dumps({"bootstrap-commands": commands})
    )
    assert done.returncode == 0, done.stderr
    rendered = sandbox.path("/etc/bootstrap-commands/bootstrap-commands.toml")
    sandbox.wait_for(
        lambda: rendered.exists() and all(f'["{name}"]' in rendered.read_text() for name in commands),
        "the rendered bootstrap commands",
    )
    sandbox.wait_idle()


def bootstrap_commands(sandbox: Sandbox, *args: str) -> tuple[int, str, str]:
    done = run_program("thar.bootstrap_containers.commands", *args, env=sandbox.env)
    sandbox.wait_idle()
    return done.returncode, done.stdout, done.stderr


def modes(sandbox: Sandbox) -> dict[str, str]:
    found = settings(sandbox, "settings.bootstrap-commands")
    assert isinstance(found, dict)
    return {name: entry.get("mode") for name, entry in found["settings"]["bootstrap-commands"].items()}


def motd(sandbox: Sandbox) -> str:
    found = settings(sandbox, "settings.motd")
    assert isinstance(found, dict)
    return str(found["settings"]["motd"])


def test_entries_run_in_name_order_and_a_once_entry_is_turned_off(sandbox: Sandbox) -> None:
    configure(
        sandbox,
        {
            "20-second": {"commands": [["apiclient", "set", "motd=second"]], "mode": "always"},
            "10-first": {
                "commands": [["apiclient", "set", "motd=first"], ["apiclient", "set", "network.hostname=boot-host"]],
                "mode": "once",
                "essential": True,
            },
            "05-off": {"commands": [["apiclient", "set", "motd=never"]], "mode": "off"},
        },
    )
    code, out, err = bootstrap_commands(sandbox)
    assert code == 0, err
    assert motd(sandbox) == "second"  # 20-second ran after 10-first
    found = settings(sandbox, "settings.network.hostname")
    assert found == {"settings": {"network": {"hostname": "boot-host"}}}
    assert modes(sandbox) == {"05-off": "off", "10-first": "off", "20-second": "always"}
    lines = out.splitlines()
    order = [next(i for i, line in enumerate(lines) if text in line) for text in (
        "Bootstrap command mode for '05-off' is 'off'",
        "Processing bootstrap command '10-first'",
        "Turning off bootstrap command '10-first'",
        "Successfully ran bootstrap command '10-first'",
        "Processing bootstrap command '20-second'",
        "Successfully ran bootstrap command '20-second'",
    )]  # fmt: skip
    assert order == sorted(order)
    sandbox.wait_for(lambda: sandbox.path("/etc/motd").read_text() == "second\n", "the motd rendered")


def test_a_second_boot_runs_always_entries_only(sandbox: Sandbox) -> None:
    configure(
        sandbox,
        {
            "a": {"commands": [["apiclient", "set", "motd=once"]], "mode": "once"},
            "b": {"commands": [["apiclient", "set", "network.hostname=b-host"]], "mode": "always"},
        },
    )
    assert bootstrap_commands(sandbox)[::2] == (0, "")
    sandbox.wait_for(
        lambda: 'mode = "off"' in sandbox.path("/etc/bootstrap-commands/bootstrap-commands.toml").read_text(),
        "the once entry rendered off",
    )
    done = sandbox.run("apiclient", "--socket-path", str(sandbox.socket), "set", "motd=changed")
    assert done.returncode == 0, done.stderr
    code, out, err = bootstrap_commands(sandbox)
    assert code == 0, err
    assert motd(sandbox) == "changed"  # 'a' did not run again
    assert "Bootstrap command mode for 'a' is 'off'" in out
    assert "Successfully ran bootstrap command 'b'" in out and err == ""


def test_an_essential_failure_exits_1_naming_the_entry_and_the_command(sandbox: Sandbox) -> None:
    configure(
        sandbox,
        {
            "10-bad": {
                "commands": [["apiclient", "set", "motd=before"], ["apiclient", "set", "no-such-setting=1"]],
                "mode": "once",
                "essential": True,
            },
            "20-after": {"commands": [["apiclient", "set", "motd=after"]], "mode": "always"},
        },
    )
    code, _, err = bootstrap_commands(sandbox)
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last == (
        "bootstrap-commands: Bootstrap command '10-bad' failed: 'apiclient set no-such-setting=1' exited with status 1"
    )
    assert motd(sandbox) == "before"  # the entry's first command ran; 20-after did not
    assert modes(sandbox)["10-bad"] == "once"  # not turned off: it runs again at the next boot


def test_a_non_essential_failure_is_logged_and_the_next_entry_runs(sandbox: Sandbox) -> None:
    configure(
        sandbox,
        {
            "10-bad": {"commands": [["apiclient", "set", "no-such-setting=1"]], "mode": "once"},
            "20-good": {"commands": [["apiclient", "set", "motd=good"]], "mode": "once"},
        },
    )
    code, _, err = bootstrap_commands(sandbox)
    assert code == 0, err
    assert (
        "Bootstrap command '10-bad' failed: 'apiclient set no-such-setting=1' exited with status 1; "
        "it is not essential, going on" in err
    )
    assert motd(sandbox) == "good"
    assert modes(sandbox) == {"10-bad": "once", "20-good": "off"}


def test_no_entries_is_nothing_to_do(sandbox: Sandbox) -> None:
    code, out, err = bootstrap_commands(sandbox)
    assert (code, err) == (0, "")
    assert "Processing" not in out


def test_bottlerocket_layout_is_read_too(sandbox: Sandbox, tmp_path: Path) -> None:
    """A file in the layout of Bottlerocket's template: [bootstrap-commands."NAME"]."""
    config = tmp_path / "bootstrap-commands.toml"
    config.write_text(
        '[bootstrap-commands."001-test"]\ncommands = [["apiclient", "set", "motd=helloworld"]]\n'
        'essential = true\nmode = "always"\n'
    )
    code, _, err = bootstrap_commands(sandbox, "--config-path", str(config))
    assert code == 0, err
    assert motd(sandbox) == "helloworld"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('["a"]\ncommands = [["touch", "x"]]\n', "'a': commands[0] ['touch', 'x']: the first word must be apiclient"),
        ('["a"]\nmode = "sometimes"\n', "'a': invalid bootstrap mode 'sometimes'"),
        ('["a"]\nessential = "yes"\n', "'a': essential must be true or false"),
    ],
)
def test_a_file_that_does_not_parse_runs_nothing(sandbox: Sandbox, tmp_path: Path, text: str, reason: str) -> None:
    config = tmp_path / "bootstrap-commands.toml"
    config.write_text(text + '["b"]\ncommands = [["apiclient", "set", "motd=ran"]]\nmode = "always"\n')
    code, _, err = bootstrap_commands(sandbox, "--config-path", str(config))
    assert code == 1
    assert f"Failed to read settings from config at {config}: {reason}" in err
    assert motd(sandbox) != "ran"
