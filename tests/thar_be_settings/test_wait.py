"""`apiclient set --wait` / `apply --wait` in a sandbox: the real apiserver runs the real
thar-be-settings in the foreground with `--report-fd`, and answers with its report once files
are written and services restarted (`POST /tx/commit_and_apply?wait=true`, `/tx/apply?wait=true`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.apiserver.conftest import ApiClient

from .conftest import Sandbox

MakeSandbox = Callable[..., Sandbox]
JSON = {"Content-Type": "application/json"}


def _apiclient(sandbox: Sandbox, *argv: str, stdin: str | None = None) -> tuple[int, Any, str]:
    done = sandbox.run("apiclient", "--socket-path", str(sandbox.socket), *argv, stdin=stdin)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None, done.stderr


def _by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries}


def test_set_wait_returns_after_the_motd_is_written_every_time(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    motd = sandbox.path("/etc/motd")
    for n in range(50):
        code, report, stderr = _apiclient(sandbox, "set", "--wait", f"motd=x{n}")
        assert code == 0, stderr
        assert motd.read_text() == f"x{n}\n", n  # read right after the command returned
        assert report["status"] == "applied"
        assert report["committed"] is True and report["keys"] == ["settings.motd"]
        assert _by_name(report["files"])["motd"] == {"name": "motd", "path": "/etc/motd", "status": "written"}


def test_set_wait_prints_sorted_indented_json(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    done = sandbox.run("apiclient", "--socket-path", str(sandbox.socket), "set", "--wait", "motd=hi")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert done.stdout == json.dumps(report, indent=2, sort_keys=True) + "\n"
    assert {"committed", "generation", "keys", "status", "error", "exit_status", "files", "services"} <= set(report)
    assert report["exit_status"] == 0 and report["error"] is None


def test_unchanged_files_and_restarted_services_are_reported(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    change = {"ntp": {"time-servers": ["time.example.com"]}}
    code, report, stderr = _apiclient(sandbox, "set", "--wait", "--json", json.dumps(change))
    assert code == 0, stderr
    assert "pool time.example.com iburst" in sandbox.path("/etc/chrony.conf").read_text()
    chronyd = _by_name(report["services"])["chronyd"]
    assert chronyd["status"] == "restarted"
    assert [c["exit_status"] for c in chronyd["commands"]] == [0] * len(chronyd["commands"]) != []
    # The same value again: the file's bytes are already right.
    code, report, stderr = _apiclient(
        sandbox, "set", "--wait", "--json", json.dumps({"ntp": {"time-servers": ["a.example"]}})
    )
    assert code == 0, stderr
    code, report, stderr = _apiclient(
        sandbox, "apply", "--wait", stdin='[settings.ntp]\ntime-servers = ["a.example", "b.example"]\n'
    )
    assert code == 0, stderr
    assert _by_name(report["files"])["chrony-conf"]["status"] == "written"
    assert "b.example" in sandbox.path("/etc/chrony.conf").read_text()


def test_a_failed_restart_is_reported_with_its_exit_status_and_stderr(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    sandbox.wait_idle()
    restarts = sandbox.path("/run/thar/restarts.log")
    restarts.unlink(missing_ok=True)
    restarts.mkdir(parents=True)  # thar-record-restart cannot append to it: the restart fails
    change = {"ntp": {"time-servers": ["time.example.com"]}}
    code, report, stderr = _apiclient(sandbox, "set", "--wait", "--json", json.dumps(change))
    assert code == 1
    assert "the settings were committed" in stderr and "502" in stderr
    assert report["status"] == "failed" and report["committed"] is True
    assert report["exit_status"] == 1
    assert "Restart command failed" in report["error"]
    chronyd = _by_name(report["services"])["chronyd"]
    assert chronyd["status"] == "failed"
    (command,) = chronyd["commands"]
    assert command["exit_status"] == 1
    assert "cannot write" in command["stderr_tail"] and "restarts.log" in command["stderr_tail"]
    # The commit stands, and the file was written before the restart.
    assert "pool time.example.com iburst" in sandbox.path("/etc/chrony.conf").read_text()
    code, live, _ = _apiclient(sandbox, "get", "settings.ntp.time-servers")
    assert live == {"settings": {"ntp": {"time-servers": ["time.example.com"]}}}


def test_the_server_answers_502_and_the_report_for_a_failed_apply(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    sandbox.wait_idle()
    restarts = sandbox.path("/run/thar/restarts.log")
    restarts.unlink(missing_ok=True)
    restarts.mkdir(parents=True)
    api = ApiClient(sandbox.socket)
    assert (
        api.request("PATCH", "/settings?tx=t", json.dumps({"ntp": {"time-servers": ["b.example"]}}), JSON).status == 204
    )
    answer = api.request("POST", "/tx/commit_and_apply?tx=t&wait=true")
    assert answer.status == 502
    body = answer.json()
    assert body["committed"] is True and body["keys"] == ["settings.ntp.time-servers"]
    assert _by_name(body["services"])["chronyd"]["status"] == "failed"
    answer = api.request("POST", "/tx/apply?keys=settings.motd&wait=true")
    assert answer.status == 200, answer.text
    assert "committed" not in answer.json() and answer.json()["status"] == "applied"


def test_without_wait_the_answers_are_bottlerocket_s(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    api = ApiClient(sandbox.socket)
    assert api.request("PATCH", "/settings?tx=t", json.dumps({"motd": "plain"}), JSON).status == 204
    answer = api.request("POST", "/tx/commit_and_apply?tx=t")
    assert (answer.status, answer.json()) == (200, ["settings.motd"])
    assert api.request("POST", "/tx/apply?keys=settings.motd").status == 204
    assert api.request("POST", "/tx/apply?wait=maybe").status == 400
    sandbox.wait_idle()
