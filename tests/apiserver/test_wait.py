"""`wait=true` on `POST /tx/commit_and_apply` and `POST /tx/apply`, against the applier stub: the
applier runs in the foreground with `--report-fd`, the answer waits for it (200), and a failed
(502) or unfinished (504) apply still says the commit was made."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from .conftest import Api


def _apiclient(api: Api, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thar.apiclient", "--socket-path", str(api.socket_path), *argv],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_wait_runs_the_applier_in_the_foreground_and_answers_its_report(api: Api) -> None:
    api.patch_ok("/settings?tx=w", {"motd": "waited"})
    answer = api.post("/tx/commit_and_apply?tx=w&wait=true")
    assert answer.status == 200, answer.text
    body = answer.json()
    assert body == {
        "committed": True,
        "generation": body["generation"],
        "keys": ["settings.motd"],
        "status": "applied",
        "error": None,
        "exit_status": 0,
        "files": [],
        "services": [],
    }
    (call,) = api.applier_calls()
    assert "--daemon" not in call.argv and call.argv[0] == "--report-fd" and call.argv[1].isdigit()
    assert json.loads(call.stdin or "") == ["settings.motd"] and call.stdin_pipe
    assert api.get("/settings?keys=settings.motd").json() == {"motd": "waited"}


def test_without_wait_the_applier_is_daemonized_and_the_answer_unchanged(api: Api) -> None:
    api.patch_ok("/settings?tx=w", {"motd": "plain"})
    answer = api.post("/tx/commit_and_apply?tx=w&wait=false")
    assert (answer.status, answer.json()) == (200, ["settings.motd"])
    answer = api.post("/tx/apply")
    assert (answer.status, answer.body) == (204, b"")
    calls = api.applier_calls()
    assert [c.argv for c in calls] == [["--daemon"], ["--daemon", "--all"]]


def test_a_failing_applier_answers_502_and_the_commit_stands(api: Api) -> None:
    api.set_applier(exit_code=3)
    api.patch_ok("/settings?tx=w", {"motd": "failed"})
    answer = api.post("/tx/commit_and_apply?tx=w&wait=true")
    assert answer.status == 502
    assert answer.content_type == "application/json"
    body = answer.json()
    assert (body["committed"], body["status"], body["exit_status"]) == (True, "failed", 3)
    assert body["error"] == "Config applier exited 3"
    assert api.get("/settings?keys=settings.motd").json() == {"motd": "failed"}
    answer = api.post("/tx/apply?wait=true&keys=settings.motd")
    assert answer.status == 502 and "committed" not in answer.json()
    assert api.applier_calls()[-1].argv[:1] == ["--report-fd"]


def test_an_applier_that_outlasts_the_timeout_answers_504(api: Api) -> None:
    api.set_applier(sleep=2.0)
    api.patch_ok("/settings?tx=w", {"motd": "slow"})
    started = time.monotonic()
    answer = api.post("/tx/commit_and_apply?tx=w&wait=true&timeout=1")
    assert 0.9 < time.monotonic() - started < 1.9
    assert answer.status == 504
    body = answer.json()
    assert (body["committed"], body["status"], body["exit_status"]) == (True, "timeout", None)
    assert "did not finish within 1 seconds" in body["error"]
    assert api.get("/settings?keys=settings.motd").json() == {"motd": "slow"}
    time.sleep(1.5)  # the applier finishes in the background


def test_wait_and_timeout_are_checked(api: Api) -> None:
    for query in ("wait=yes", "wait=true&timeout=0", "wait=true&timeout=3601", "wait=true&timeout=x"):
        answer = api.post(f"/tx/apply?{query}")
        assert answer.status == 400, query
    assert api.applier_calls() == []


def test_apiclient_set_wait_prints_the_report_and_exits_1_when_the_apply_failed(api: Api) -> None:
    done = _apiclient(api, "set", "--wait", "motd=cli")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert done.stdout == json.dumps(report, indent=2, sort_keys=True) + "\n"
    assert report["status"] == "applied" and report["keys"] == ["settings.motd"]
    api.set_applier(exit_code=1)
    done = _apiclient(api, "set", "--wait", "--timeout", "30", "motd=cli2")
    assert done.returncode == 1
    assert json.loads(done.stdout)["status"] == "failed"
    assert done.stderr.startswith("Failed to change settings: Apply failed with status 502: Config applier exited 1")
    assert "(the settings were committed)" in done.stderr
    assert api.get("/settings?keys=settings.motd").json() == {"motd": "cli2"}
    assert api.get("/tx/list").json() == []


def test_apiclient_set_wait_fails_before_the_commit_as_set_does(api: Api) -> None:
    done = _apiclient(api, "set", "--wait", "motd.x=1")
    assert done.returncode == 1 and done.stdout == ""
    assert "(Failed to change settings: Failed PATCH request to '/settings/keypair?tx=" in done.stderr
    assert api.get("/tx/list").json() == [] and api.applier_calls() == []
