"""thar's additional subcommands and flags (history, rollback, confirm, unset, watch, set --confirm,
set --patch, set/apply --dry-run) through `main`, against a recording peer on a Unix socket: the
requests they send, what they print, and their usage errors. The same commands run against the
real apiserver in tests/apiserver/."""

from __future__ import annotations

import json
import re

import pytest

from tests.apiclient.peer import ApiPeer, Recorded
from thar.apiclient.cli import main
from thar.apiclient.history import format_history

TX_SET = re.compile(r"apiclient-set-[A-Za-z0-9]{16}")
TX_UNSET = re.compile(r"apiclient-unset-[A-Za-z0-9]{16}")
ENTRY = {
    "generation": 7,
    "transaction": "apiclient-set-x",
    "time": "2026-11-29T17:00:01.123456Z",
    "caller": {"uid": 0, "gid": 0, "pid": 42},
    "keys": ["settings.motd", "settings.a", "settings.b", "settings.c"],
}


def run(capsys: pytest.CaptureFixture[str], peer: ApiPeer, *argv: str) -> tuple[int, str, str]:
    code = main(["-s", peer.socket_path, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_history_prints_a_table(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/tx/history", (200, json.dumps([ENTRY, dict(ENTRY, generation=6, caller=None, keys=[])])))
    code, out, _ = run(capsys, peer, "history", "--limit", "2", "--prefix", "settings.motd")
    assert code == 0
    assert peer.sent() == [("GET", "/tx/history?limit=2&prefix=settings.motd")]
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["7", "2026-11-29", "17:00:01", "apiclient-set-x"]
    assert lines[1].endswith("uid 0 pid 42  motd, a, b (+1 more)")
    assert lines[2].split()[4] == "-"
    assert out == format_history([ENTRY, dict(ENTRY, generation=6, caller=None, keys=[])])


def test_history_n_prints_the_patch(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    patch = [{"op": "replace", "path": "/motd", "value": "hi"}]
    peer.route("GET", "/tx/history/3", (200, json.dumps(patch)))
    code, out, _ = run(capsys, peer, "history", "3")
    assert (code, json.loads(out)) == (0, patch)


def test_rollback_and_confirm(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("POST", "/tx/rollback", (200, '["settings.motd"]'))
    peer.route("POST", "/tx/confirm", (409, "No commit is waiting for confirmation"))
    assert run(capsys, peer, "rollback", "4")[0] == 0
    code, _, err = run(capsys, peer, "confirm")
    assert code == 1
    assert err == ("No commit is waiting for confirmation "
                   "(Failed to confirm: Failed POST request to '/tx/confirm', status 409)\n")  # fmt: skip
    assert peer.sent() == [("POST", "/tx/rollback?to=4"), ("POST", "/tx/confirm")]


def test_unset_stages_the_reset_then_commits(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("DELETE", "/settings", (204, ""))
    code, _, _ = run(capsys, peer, "unset", "motd", 'kubernetes.node-labels."a.b"', "--confirm", "30")
    assert code == 0
    delete, commit = peer.requests
    assert delete.method == "DELETE" and delete.path == "/settings"
    tx = delete.query["tx"]
    assert TX_UNSET.fullmatch(tx)
    assert delete.query["keys"] == 'motd,kubernetes.node-labels."a.b"'
    assert (commit.method, commit.path, commit.query) == ("POST", "/tx/commit_and_apply", {"tx": tx, "confirm": "30"})


def test_set_confirm_and_patch(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    operations = [{"op": "add", "path": "/ntp/time-servers/-", "value": "b.example"}]
    code, _, _ = run(capsys, peer, "set", "--patch", json.dumps(operations), "--confirm", "120")
    assert code == 0
    patch, commit = peer.requests
    assert (patch.method, patch.path, patch.json()) == ("PATCH", "/settings", operations)
    assert patch.headers["content-type"] == "application/json-patch+json"
    assert TX_SET.fullmatch(patch.query["tx"])
    assert commit.query == {"tx": patch.query["tx"], "confirm": "120"}


def test_set_dry_run_prints_the_diff_and_deletes_the_transaction(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer
) -> None:
    answer = {"keys": ["settings.motd"], "diff": "--- /etc/motd\n+++ /etc/motd\n-a\n+b\n", "restarts": [],
              "reload_systemd": False}  # fmt: skip
    peer.route("POST", "/tx/commit_and_apply", (200, json.dumps(answer)))
    code, out, _ = run(capsys, peer, "set", "--dry-run", "motd=b")
    assert (code, out) == (0, answer["diff"])
    patch, dry, delete = peer.requests
    tx = patch.query["tx"]
    assert dry.query == {"tx": tx, "dry_run": "true"}
    assert (delete.method, delete.path, delete.query) == ("DELETE", "/tx", {"tx": tx})


def test_watch_prints_changes_only(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    answers = iter([{"generation": 4, "settings": {}}, {"generation": 5, "settings": {"motd": "x"}}])

    def respond(request: Recorded) -> tuple[int, str]:
        return 200, json.dumps(next(answers))

    peer.route("GET", "/settings/watch", respond)
    code, out, _ = run(capsys, peer, "watch", "motd", "--since", "3", "--count", "1")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [{"generation": 5, "settings": {"motd": "x"}}]
    first, second = peer.requests
    assert (first.query["prefix"], first.query["since"]) == ("motd", "3")
    assert second.query["since"] == "4"  # the answered generation is the next `since`


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rollback"], "the following arguments are required: N"),
        (["rollback", "x"], "Invalid argument to N: give a whole number of at least 0"),
        (["history", "3", "--limit", "2"], "Give a generation N or filters, not both"),
        (["set", "--confirm", "0", "motd=x"], "Invalid argument to --confirm: give a whole number of at least 1"),
        (["set", "--dry-run", "--confirm", "5", "motd=x"], "Cannot specify --dry-run and --confirm together"),
        (
            [
                "set",
                "--patch",
                "{}",
            ],
            "A JSON Patch must be an array of operations",
        ),
        (["set", "--patch", "[]", "motd=x"], "Cannot specify --patch with key=value pairs or --json settings"),
        (["unset"], "the following arguments are required: KEY"),
        (["confirm", "now"], "Unknown arguments: now"),
        (["watch", "--count", "0"], "Invalid argument to --count: give a whole number of at least 1"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(message)
