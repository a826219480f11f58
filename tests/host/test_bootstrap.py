"""Bootstrap commands under Debian's real systemd: user data's settings.bootstrap-commands run
by bootstrap-commands.service once the settings are applied and before preconfigured.target,
a once entry turned off for the next boot, and an essential entry that fails stopping the boot
before the host is configured. (A bootstrap container under systemd needs host-containerd.service,
the host containers' containerd.)"""

from __future__ import annotations

import json

from thar.sandbox.host import ThrowawayHost

from .conftest import MakeHost

STAMPS = (
    "ActiveState",
    "Result",
    "ExecMainStatus",
    "ExecMainStartTimestampMonotonic",
    "ExecMainExitTimestampMonotonic",
    "ActiveEnterTimestampMonotonic",
)

USER_DATA = """\
[settings.bootstrap-commands."10-motd"]
commands = [["apiclient", "set", "motd=from a bootstrap command"]]
mode = "once"
essential = true

[settings.bootstrap-commands."20-hostname"]
commands = [["apiclient", "set", "network.hostname=bootstrapped"]]
mode = "always"
"""


def settings(host: ThrowawayHost, *keys: str) -> dict[str, object]:
    answer: dict[str, object] = json.loads(host.run(["apiclient", "get", *keys]).stdout)
    return answer


def test_bootstrap_commands_run_before_preconfigured_target_and_a_once_entry_is_turned_off(
    make_host: MakeHost,
) -> None:
    host = make_host(user_data=USER_DATA)
    state = host.boot()
    assert state == "running", (state, host.systemctl("list-units", "--failed").stdout)
    unit = host.show("bootstrap-commands.service", *STAMPS)
    assert (unit["ActiveState"], unit["Result"], unit["ExecMainStatus"]) == ("active", "success", "0"), unit
    applier = host.show("settings-applier.service", *STAMPS)
    target = host.show("preconfigured.target", *STAMPS)
    exited = int(unit["ExecMainExitTimestampMonotonic"])
    assert int(applier["ExecMainExitTimestampMonotonic"]) <= exited <= int(target["ActiveEnterTimestampMonotonic"])
    assert host.show("configured.target", "ActiveState")["ActiveState"] == "active"
    found = settings(host, "settings.motd", "settings.network.hostname", "settings.bootstrap-commands")
    assert found["settings"] == {
        "motd": "from a bootstrap command",
        "network": {"hostname": "bootstrapped"},
        "bootstrap-commands": {
            "10-motd": {"commands": [["apiclient", "set", "motd=from a bootstrap command"]], "mode": "off",
                        "essential": True},
            "20-hostname": {"commands": [["apiclient", "set", "network.hostname=bootstrapped"]], "mode": "always"},
        },
    }  # fmt: skip
    assert host.run(["cat", "/etc/motd"]).stdout == "from a bootstrap command\n"
    journal = host.journal("bootstrap-commands.service")
    assert "Turning off bootstrap command '10-motd'" in journal
    assert "Successfully ran bootstrap command '20-hostname'" in journal
    # The next boot: the once entry is off, the always entry runs again.
    host.run(["apiclient", "set", "--wait", "motd=changed after boot"])
    host.poweroff()
    assert host.boot() == "running"
    assert settings(host, "settings.motd")["settings"] == {"motd": "changed after boot"}
    journal = host.journal("bootstrap-commands.service")
    assert "Bootstrap command mode for '10-motd' is 'off'" in journal
    assert "Successfully ran bootstrap command '20-hostname'" in journal


def test_an_essential_bootstrap_command_that_fails_stops_the_boot_before_the_host_is_configured(
    make_host: MakeHost,
) -> None:
    host = make_host(
        user_data='[settings.bootstrap-commands.bad]\ncommands = [["apiclient", "set", "no-such-setting=1"]]\n'
        'mode = "once"\nessential = true\n'
    )
    assert host.boot() == "degraded"
    unit = host.show("bootstrap-commands.service", *STAMPS)
    assert (unit["ActiveState"], unit["Result"], unit["ExecMainStatus"]) == ("failed", "exit-code", "1"), unit
    journal = host.journal("bootstrap-commands.service")
    assert "Bootstrap command 'bad' failed: 'apiclient set no-such-setting=1' exited with status 1" in journal
    for name in ("preconfigured.target", "configured.target"):
        assert host.show(name, "ActiveState")["ActiveState"] == "inactive", name
    # The API stays up to inspect and fix the host; the entry is still once: it runs at the next boot.
    assert host.show("apiserver.service", "ActiveState")["ActiveState"] == "active"
    entry = settings(host, "settings.bootstrap-commands")["settings"]
    assert entry == {"bootstrap-commands": {"bad": {
        "commands": [["apiclient", "set", "no-such-setting=1"]], "mode": "once", "essential": True}}}  # fmt: skip


def bootstrap_container_host(make_host: MakeHost, essential: bool) -> ThrowawayHost:
    """A host whose bootstrap container ``box`` cannot be pulled (the registry is not reachable
    from the host's private network); host-ctr tries once instead of backing off five times."""
    host = make_host(user_data=bootstrap_container_user_data(essential))
    host.write(
        "/etc/systemd/system/bootstrap-containers@.service.d/pull-retries.conf",
        "[Service]\nEnvironment=HOST_CTR_PULL_RETRIES=0\n",
    )
    return host


def bootstrap_container_user_data(essential: bool) -> str:
    return (
        '[settings.bootstrap-containers.box]\nsource = "127.0.0.1:5000/thar/box:latest"\nmode = "once"\n'
        f"essential = {str(essential).lower()}\n"
    )


def test_a_bootstrap_container_enabled_during_the_boot_runs_in_it_before_configured_target(
    make_host: MakeHost,
) -> None:
    """settings-applier's create-containers enables bootstrap-containers@box.service (no reload);
    activate-configured.service makes it join this boot, before configured.target. Its image
    cannot be pulled on the host's private network, so its host-ctr fails: a container that is
    not essential leaves configured.target reached, the host degraded and the container still once."""
    host = bootstrap_container_host(make_host, essential=False)
    assert host.boot() == "degraded"
    box = host.show("bootstrap-containers@box.service", "ActiveState", "Result", "InactiveExitTimestampMonotonic")
    assert (box["ActiveState"], box["Result"]) == ("failed", "exit-code"), box
    configured = host.show("configured.target", *STAMPS)
    assert configured["ActiveState"] == "active"
    activate = host.show("activate-configured.service", *STAMPS)
    assert activate["Result"] == "success", activate
    started = int(box["InactiveExitTimestampMonotonic"])
    # Queued by activate-configured's `systemctl start --no-block configured.target`.
    assert (
        int(activate["ExecMainStartTimestampMonotonic"]) <= started <= int(configured["ActiveEnterTimestampMonotonic"])
    )
    assert "host-ctr" in host.journal("bootstrap-containers@box.service")
    assert host.run(["cat", "/etc/bootstrap-containers/box.env"]).stdout == (
        "CTR_SOURCE=127.0.0.1:5000/thar/box:latest\nCTR_MODE=once\n"
    )
    assert host.run(["test", "-e", "/run/bootstrap-containers/box.ran"], check=False).returncode == 0
    mode = settings(host, "settings.bootstrap-containers.box.mode")["settings"]
    assert mode == {"bootstrap-containers": {"box": {"mode": "once"}}}  # mark-bootstrap did not run


def test_an_essential_bootstrap_container_that_fails_leaves_the_host_unconfigured(make_host: MakeHost) -> None:
    host = bootstrap_container_host(make_host, essential=True)
    assert host.boot() == "degraded"
    assert host.show("bootstrap-containers@box.service", "ActiveState")["ActiveState"] == "failed"
    assert host.show("preconfigured.target", "ActiveState")["ActiveState"] == "active"
    assert host.show("configured.target", "ActiveState")["ActiveState"] == "inactive"
    link = "/etc/systemd/system/configured.target.requires/bootstrap-containers@box.service"
    assert host.run(["test", "-L", link], check=False).returncode == 0
