"""Crash and restart under systemd: a SIGKILLed apiserver is restarted by systemd (Restart=)
while the socket keeps accepting and no commit is lost; ``apiclient reboot`` reboots the host
through ``systemctl reboot`` and the next boot keeps every setting changed through the API and
does not apply the user data again; a first boot killed during storewolf boots on the next try."""

from __future__ import annotations

import json
import time

from thar.sandbox.host import NSPAWN_REBOOT, ThrowawayHost

from .conftest import MakeHost


def motd(host: ThrowawayHost) -> str:
    value: str = json.loads(host.run(["apiclient", "get", "settings.motd"]).stdout)["settings"]["motd"]
    return value


def test_a_killed_apiserver_is_restarted_and_loses_no_commit(make_host: MakeHost) -> None:
    host = make_host()
    assert host.boot() == "running"
    host.run(["apiclient", "set", "motd=committed before the kill"])
    before = host.show("apiserver.service", "MainPID", "NRestarts")
    host.run(["kill", "-KILL", before["MainPID"]])
    # The socket stays open while systemd restarts the server: this client waits, then is served.
    host.run(["apiclient", "set", "motd=committed after the kill"], timeout=60)
    after = host.show("apiserver.service", "MainPID", "NRestarts", "ActiveState")
    assert after["ActiveState"] == "active"
    assert after["MainPID"] != before["MainPID"]
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    assert motd(host) == "committed after the kill"
    history = host.journal("apiserver.service")
    assert "code=killed, status=9/KILL" in history, history[-2000:]


def test_a_reboot_keeps_the_api_changes_and_does_not_apply_user_data_again(make_host: MakeHost) -> None:
    host = make_host(user_data='[settings]\nmotd = "from user data"\n')
    assert host.boot() == "running"
    assert motd(host) == "from user data"
    host.run(["apiclient", "set", "motd=changed through the API"])
    host.run(["apiclient", "reboot"], check=False)
    assert host.wait_stopped(60) == NSPAWN_REBOOT
    assert host.boot() == "running"
    assert motd(host) == "changed through the API"
    assert host.run(["cat", "/etc/motd"]).stdout == "changed through the API\n"
    ebc = host.show("early-boot-config.service", "ActiveState", "ConditionResult")
    assert ebc["ConditionResult"] == "no", ebc  # skipped: its marker exists
    assert host.show("configured.target", "ActiveState")["ActiveState"] == "active"


def test_a_first_boot_killed_during_storewolf_boots_on_the_next_try(make_host: MakeHost) -> None:
    host = make_host(user_data='[settings]\nmotd = "after the power cut"\n')
    host.start()
    deadline = time.monotonic() + 60
    while True:
        state = host.run(["systemctl", "is-active", "storewolf.service"], check=False).stdout.strip()
        if state in ("activating", "active"):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.01)
    host.kill()
    assert host.boot() == "running", host.systemctl("list-units", "--failed").stdout
    assert host.show("configured.target", "ActiveState")["ActiveState"] == "active"
    assert motd(host) == "after the power cut"
    assert host.run(["cat", "/etc/motd"]).stdout == "after the power cut\n"
