"""Real restarts on a real host: thar-dev's ntp settings are rendered into /etc/chrony.conf and
its host restart command (Bottlerocket's ``systemctl try-reload-or-restart chronyd.service``)
restarts Debian's chronyd, a new invocation each time; a key that affects no service restarts
nothing; quick sets never leave the unit stopped (Bottlerocket's issue 1711); a failing
restart is in the ``--wait`` report and the unit is left as systemd left it."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from thar.sandbox.host import ThrowawayHost

from .conftest import MakeHost, chrony_host

CHRONY = "chrony.service"  # chronyd.service is its alias


@pytest.fixture(scope="module")
def host(chrony_support: None, make_module_host: MakeHost) -> ThrowawayHost:
    host = chrony_host(make_module_host(keep=[CHRONY]))
    assert host.boot() == "running", host.systemctl("list-units", "--failed").stdout
    return host


def invocation(host: ThrowawayHost) -> str:
    state = host.show(CHRONY, "InvocationID", "ActiveState")
    assert state["ActiveState"] == "active", (state, host.journal(CHRONY)[-2000:])
    return state["InvocationID"]


def starts(host: ThrowawayHost) -> int:
    """How often systemd started chronyd in this boot."""
    return host.journal(CHRONY).count("Started chrony.service")


def set_wait(host: ThrowawayHost, *assignments: str, check: bool = True) -> tuple[int, dict[str, Any]]:
    done = host.run(["apiclient", "set", "--wait", *assignments], check=check)
    return done.returncode, json.loads(done.stdout)


def service(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The report's entry for service ``name``, or None."""
    return next((entry for entry in report["services"] if entry["name"] == name), None)


def applying(host: ThrowawayHost) -> bool:
    """Whether a thar-be-settings process runs (the program itself, not a command line naming it)."""
    for line in host.run(["ps", "-eo", "args", "--no-headers"]).stdout.splitlines():
        words = line.split()
        if any(word.endswith("/thar-be-settings") for word in words[:2]):
            return True
    return False


def test_chronyd_runs_on_the_rendered_file_after_the_boot(host: ThrowawayHost) -> None:
    conf = host.run(["cat", "/etc/chrony.conf"]).stdout
    assert conf.startswith("# chrony configuration, rendered by thar-be-settings")
    assert "pool 0.pool.ntp.org" in conf
    invocation(host)
    # settings-applier ran the host restart command (not the sandbox recorder).
    applier = host.journal("settings-applier.service")
    assert "try-reload-or-restart chronyd.service" in applier
    assert "thar-record-restart" not in applier


def test_an_ntp_change_rerenders_and_restarts_chronyd(host: ThrowawayHost) -> None:
    before = invocation(host)
    code, report = set_wait(host, "--json", '{"ntp": {"time-servers": ["time.example.net"]}}')
    assert code == 0 and report["status"] == "applied", report
    assert (service(report, "chronyd") or {}).get("status") == "restarted", report
    assert "pool time.example.net" in host.run(["cat", "/etc/chrony.conf"]).stdout
    assert invocation(host) != before


def test_a_key_no_service_uses_restarts_nothing(host: ThrowawayHost) -> None:
    before, count = invocation(host), starts(host)
    code, report = set_wait(host, "motd=nothing to restart")
    assert code == 0 and report["status"] == "applied", report
    assert service(report, "chronyd") is None, report
    assert (invocation(host), starts(host)) == (before, count)


def test_two_quick_sets_never_leave_chronyd_stopped(host: ThrowawayHost) -> None:
    before, count = invocation(host), starts(host)
    argv = ["apiclient", "set"]
    first = subprocess.Popen(
        host.command([*argv, "--json", '{"ntp": {"time-servers": ["a.example.net"]}}']),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    second = host.run([*argv, "--json", '{"ntp": {"time-servers": ["b.example.net"]}}'])
    assert first.wait(60) == 0, first.stderr.read() if first.stderr else ""
    assert second.returncode == 0
    # Whichever commit came last, its apply renders its value: wait for it.
    live = json.loads(host.run(["apiclient", "get", "settings.ntp.time-servers"]).stdout)
    (server,) = live["settings"]["ntp"]["time-servers"]
    deadline = time.monotonic() + 30
    while f"pool {server} " not in host.run(["cat", "/etc/chrony.conf"]).stdout:
        assert time.monotonic() < deadline, host.run(["cat", "/etc/chrony.conf"]).stdout
        time.sleep(0.1)
    # Settled: no applier runs and systemd has no job queued.
    while applying(host) or host.systemctl("list-jobs", "--no-legend").stdout.strip():
        assert time.monotonic() < deadline, host.systemctl("list-jobs").stdout
        time.sleep(0.1)
    after = invocation(host)
    assert after != before
    assert 1 <= starts(host) - count <= 3, host.journal(CHRONY)[-3000:]


def test_a_failing_restart_is_reported_and_the_unit_left_as_systemd_left_it(host: ThrowawayHost) -> None:
    # chronyd refuses a pool option it does not know: the restart fails.
    code, report = set_wait(host, "--json", '{"ntp": {"options": ["no-such-chrony-option"]}}', check=False)
    assert code == 1, report
    assert report["status"] == "failed", report
    chronyd = service(report, "chronyd")
    assert chronyd is not None and chronyd["status"] == "failed", report
    assert chronyd["commands"][0]["exit_status"] != 0, chronyd
    state = host.show(CHRONY, "ActiveState", "Result")
    assert state["ActiveState"] == "failed", state
    # The setting was committed all the same (the report says so), and the file rendered.
    assert "no-such-chrony-option" in host.run(["cat", "/etc/chrony.conf"]).stdout
