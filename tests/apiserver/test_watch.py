"""Watches (``GET /settings/watch``, ``apiclient watch``): a long poll answers with the changed
settings under its prefix once a commit after ``since`` touches them, end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from .conftest import Api, MakeServer, Response

WAIT = 20.0


def commit(api: Api, settings: dict[str, Any]) -> None:
    api.patch_ok("/settings", settings)
    assert api.post("/tx/commit").status == 200


def waiting_watches(api: Api) -> float:
    match = re.search(r"^thar_watches_waiting (\S+)$", api.get("/metrics").text, re.M)
    assert match is not None
    return float(match.group(1))


def wait_for_watchers(api: Api, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while waiting_watches(api) < count:
        assert time.monotonic() < deadline, "the watch never started waiting"
        time.sleep(0.02)


class Watch:
    """A watch request running in a thread."""

    def __init__(self, api: Api, query: str) -> None:
        self.response: Response | None = None
        self.thread = threading.Thread(target=self._run, args=(api, query))
        self.thread.start()

    def _run(self, api: Api, query: str) -> None:
        self.response = api.get("/settings/watch" + query)

    def result(self) -> Any:
        self.thread.join(WAIT)
        assert self.response is not None, "the watch did not answer"
        assert self.response.status == 200, self.response.text
        return self.response.json()


def test_a_commit_already_made_answers_at_once(api: Api) -> None:
    commit(api, {"motd": "one"})
    commit(api, {"motd": "two", "ntp": {"time-servers": ["a.example"]}})
    assert api.get_json("/settings/watch?since=0") == {
        "generation": 2,
        "settings": {"motd": "two", "ntp": {"time-servers": ["a.example"]}},
    }
    assert api.get_json("/settings/watch?since=1&prefix=ntp") == {
        "generation": 2,
        "settings": {"ntp": {"time-servers": ["a.example"]}},
    }


def test_a_watch_waits_for_a_commit_under_its_prefix(api: Api) -> None:
    watch = Watch(api, "?prefix=motd&timeout=60")
    wait_for_watchers(api, 1)
    commit(api, {"ntp": {"time-servers": ["not-watched.example"]}})  # generation 1: not under the prefix
    commit(api, {"motd": "watched"})  # generation 2
    assert watch.result() == {"generation": 2, "settings": {"motd": "watched"}}


def test_many_watchers_are_all_woken_by_one_commit(api: Api) -> None:
    watches = [Watch(api, "?prefix=settings.ntp&timeout=60") for _ in range(20)]
    wait_for_watchers(api, 20)
    commit(api, {"ntp": {"time-servers": ["b.example"]}})
    for watch in watches:
        assert watch.result() == {"generation": 1, "settings": {"ntp": {"time-servers": ["b.example"]}}}


def test_a_removed_setting_is_null(api: Api) -> None:
    commit(api, {"kernel": {"sysctl": {"vm.swappiness": "3"}}})
    assert api.request("DELETE", '/settings?keys=kernel.sysctl."vm.swappiness"').status == 204
    assert api.post("/tx/commit").status == 200
    assert api.get_json("/settings/watch?since=1&prefix=kernel") == {
        "generation": 2,
        "settings": {"kernel": {"sysctl": {"vm.swappiness": None}}},
    }


def test_a_timeout_answers_the_current_generation_and_nothing(api: Api) -> None:
    commit(api, {"motd": "one"})
    assert api.get_json("/settings/watch?prefix=ntp&since=0&timeout=0") == {"generation": 1, "settings": {}}
    assert api.get_json("/settings/watch?timeout=0.01") == {"generation": 1, "settings": {}}


def test_commits_from_before_a_restart_come_from_the_journal(make_server: MakeServer) -> None:
    server = make_server()
    api = Api(server)
    commit(api, {"motd": "before the restart"})
    server.stop()
    server.start()
    assert api.get_json("/settings/watch?since=0&timeout=0") == {
        "generation": 1,
        "settings": {"motd": "before the restart"},
    }


def test_stopping_the_server_ends_the_watches(make_server: MakeServer) -> None:
    server = make_server()
    api = Api(server)
    watch = Watch(api, "?timeout=3600")
    wait_for_watchers(api, 1)
    assert server.stop() == 0
    assert watch.result() == {"generation": 0, "settings": {}}


@pytest.mark.parametrize(
    "query", ["?since=-1", "?since=x", "?timeout=-1", "?timeout=3601", "?timeout=nan", "?timeout=soon", "?prefix="]
)
def test_bad_parameters_are_400(ro_api: Api, query: str) -> None:
    assert ro_api.get("/settings/watch" + query).status == 400


def test_apiclient_watch_prints_each_change(api: Api) -> None:
    argv = [sys.executable, "-m", "thar.apiclient", "-s", str(api.server.socket_path), "watch", "settings.motd",
            "--since", "0", "--count", "2"]  # fmt: skip
    commit(api, {"motd": "first"})
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first == {"generation": 1, "settings": {"motd": "first"}}
        commit(api, {"ntp": {"time-servers": ["ignored.example"]}})
        commit(api, {"motd": "second"})
        out, err = proc.communicate(timeout=WAIT)
    assert (proc.returncode, err) == (0, "")
    assert [json.loads(line) for line in out.splitlines()] == [{"generation": 3, "settings": {"motd": "second"}}]
