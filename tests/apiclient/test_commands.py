"""Each subcommand end to end through `main`, against a recording peer on a Unix socket.

The request sequences are spec/api-scenarios.md 58–63; the peer answers as spec/apiserver.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apiclient.peer import ApiPeer, HttpFiles, Recorded, running_peer
from thar.apiclient.cli import main

TX_SET = re.compile(r"apiclient-set-[A-Za-z0-9]{16}")
TX_APPLY = re.compile(r"apiclient-apply-[A-Za-z0-9]{16}")
NO_PENDING = (422, "Tried to commit with no pending changes")


def run(capsys: pytest.CaptureFixture[str], peer: ApiPeer, *argv: str) -> tuple[int, str, str]:
    code = main(["-s", peer.socket_path, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def tx_of(request: Recorded, pattern: re.Pattern[str]) -> str:
    tx = request.query["tx"]
    assert pattern.fullmatch(tx), tx
    return tx


# -- set


def test_set_keypairs_patches_then_commits_one_transaction(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    code, out, err = run(capsys, peer, "set", "motd=hi", 'kubernetes.node-labels."a.b"=c')
    assert (code, out, err) == (0, "", "")
    patch, commit = peer.requests
    tx = tx_of(patch, TX_SET)
    assert (patch.method, patch.uri) == ("PATCH", f"/settings/keypair?tx={tx}")
    assert patch.json() == {"request_payload": ["motd=hi", 'kubernetes.node-labels."a.b"=c']}
    assert (commit.method, commit.uri, commit.body) == ("POST", f"/tx/commit_and_apply?tx={tx}", b"")


def test_set_json_unwraps_settings_and_patches_settings(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    code, out, _ = run(capsys, peer, "set", "-j", '{"settings":{"motd":"a"}}')
    assert (code, out) == (0, "")
    patch, commit = peer.requests
    tx = tx_of(patch, TX_SET)
    assert (patch.method, patch.uri, patch.body) == ("PATCH", f"/settings?tx={tx}", b'{"motd":"a"}')
    assert (commit.method, commit.uri) == ("POST", f"/tx/commit_and_apply?tx={tx}")


def test_each_set_uses_a_new_transaction(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    run(capsys, peer, "set", "motd=a")
    run(capsys, peer, "set", "motd=b")
    assert peer.requests[0].query["tx"] != peer.requests[2].query["tx"]


def test_set_with_nothing_to_commit_fails_and_deletes_its_transaction(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer
) -> None:
    peer.route("POST", "/tx/commit_and_apply", NO_PENDING)
    code, out, err = run(capsys, peer, "set", "--json", '{"motd":null}')
    assert (code, out) == (1, "")
    patch, _commit, delete = peer.requests
    tx = tx_of(patch, TX_SET)
    uri = f"/tx/commit_and_apply?tx={tx}"
    assert err == (
        f"Tried to commit with no pending changes (Failed to change settings: Failed POST request to '{uri}', "
        "status 422)\n"
    )
    assert (delete.method, delete.uri) == ("DELETE", f"/tx?tx={tx}")


def test_set_rejected_by_the_model_deletes_its_transaction_and_does_not_commit(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer
) -> None:
    message = "Unable to match your input to the data model.  We may not have enough type information."
    peer.route("PATCH", "/settings/keypair", (400, message))
    code, _, err = run(capsys, peer, "set", "updates.seed=x")
    assert code == 1
    assert [r.method for r in peer.requests] == ["PATCH", "DELETE"]
    tx = tx_of(peer.requests[0], TX_SET)
    assert peer.requests[1].uri == f"/tx?tx={tx}"
    uri = f"/settings/keypair?tx={tx}"
    assert err == f"{message} (Failed to change settings: Failed PATCH request to '{uri}', status 400)\n"


def test_a_failing_delete_after_a_failure_is_only_a_warning(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("POST", "/tx/commit_and_apply", (500, "Config applier was unable to fork child, returned 1"))
    peer.route("DELETE", "/tx", (500, "Data store error during delete_pending: boom"))
    code, _, err = run(capsys, peer, "set", "motd=x")
    assert code == 1
    warning, error = err.splitlines()
    assert "[WARNING] Could not delete transaction 'apiclient-set-" in warning
    assert error.startswith("Config applier was unable to fork child, returned 1 (Failed to change settings: ")
    assert "Failed POST request to '/tx/commit_and_apply?tx=apiclient-set-" in error
    assert error.endswith(", status 500)")


def test_a_delete_the_policy_refuses_after_a_refusal_is_not_a_warning(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer
) -> None:
    refusal = "Forbidden: uid 4202, gid 4202, role 'reader' by rule 'readers' of /etc/thar/policy.toml: may not "
    peer.route("PATCH", "/settings/keypair", (403, refusal + "PATCH /settings/keypair"))
    peer.route("DELETE", "/tx", (403, refusal + "DELETE /tx"))
    code, _, err = run(capsys, peer, "set", "motd=x")
    assert code == 1
    assert [r.method for r in peer.requests] == ["PATCH", "DELETE"]
    assert err.count("\n") == 1 and "WARNING" not in err
    assert err.startswith(refusal + "PATCH /settings/keypair (Failed to change settings: Failed PATCH request to ")
    assert err.endswith(", status 403)\n")


def test_set_without_a_server_names_the_socket(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    socket_path = str(tmp_path / "api.sock")
    assert main(["-s", socket_path, "set", "motd=x"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("Failed to change settings: Failed PATCH request to '/settings/keypair?tx=apiclient-set-")
    assert f"Unable to connect to the API socket '{socket_path}'" in err
    assert "is the apiserver running?" in err
    assert err.count("\n") == 1  # no warning about a delete that could not be sent either


# -- apply


@pytest.fixture
def two_sources(tmp_path: Path) -> tuple[str, str]:
    a = tmp_path / "a.toml"
    a.write_text('[settings]\nmotd = "A"\n')
    b = tmp_path / "b.json"
    b.write_text('{"settings":{"motd":"B"},"other":1}')
    return a.as_uri(), b.as_uri()


def test_apply_patches_each_source_in_order_then_commits_once(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, two_sources: tuple[str, str]
) -> None:
    code, out, err = run(capsys, peer, "apply", *two_sources)
    assert (code, out, err) == (0, "", "")
    first, second, commit = peer.requests
    tx = tx_of(first, TX_APPLY)
    assert (first.method, first.uri, first.body) == ("PATCH", f"/settings?tx={tx}", b'{"motd":"A"}')
    assert (second.method, second.uri, second.body) == ("PATCH", f"/settings?tx={tx}", b'{"motd":"B"}')
    assert (commit.method, commit.uri) == ("POST", f"/tx/commit_and_apply?tx={tx}")


def test_apply_of_a_missing_plain_path_sends_nothing(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, tmp_path: Path
) -> None:
    missing = str(tmp_path / "a.toml")
    code, out, err = run(capsys, peer, "apply", missing)
    assert (code, out) == (1, "")
    assert err.startswith(f"Failed to apply settings: Failed to read given file '{missing}': ")
    assert "No such file or directory" in err
    assert peer.requests == []


def test_apply_takes_a_plain_path_as_well_as_a_file_uri(peer: ApiPeer, tmp_path: Path) -> None:
    (tmp_path / "relative.toml").write_text('[settings]\nmotd = "relative"\n')
    (tmp_path / "absolute.toml").write_text('[settings]\nmotd = "absolute"\n')
    (tmp_path / "uri.toml").write_text('[settings]\nmotd = "uri"\n')
    sources = ["relative.toml", str(tmp_path / "absolute.toml"), (tmp_path / "uri.toml").as_uri()]
    result = subprocess.run(
        [sys.executable, "-m", "thar.apiclient", "-s", peer.socket_path, "apply", *sources],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    patches = [r.json() for r in peer.requests if r.method == "PATCH"]
    assert patches == [{"motd": "relative"}, {"motd": "absolute"}, {"motd": "uri"}]


def test_apply_reads_every_source_before_sending_anything(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, two_sources: tuple[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('motd = "no settings table"\n')
    code, _, err = run(capsys, peer, "apply", two_sources[0], bad.as_uri(), two_sources[1])
    assert code == 1
    assert (
        err
        == f"Failed to apply settings: Settings from '{bad.as_uri()}' did not contain a 'settings' key at top level\n"
    )
    assert peer.requests == []


def test_apply_patch_failure_names_the_source_and_deletes_the_transaction(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, two_sources: tuple[str, str]
) -> None:
    calls: list[Recorded] = []

    def second_fails(request: Recorded) -> tuple[int, str]:
        calls.append(request)
        return (204, "") if len(calls) == 1 else (400, "Json deserialize error: unknown field `motdx`")

    peer.route("PATCH", "/settings", second_fails)
    code, _, err = run(capsys, peer, "apply", *two_sources)
    assert code == 1
    tx = tx_of(peer.requests[0], TX_APPLY)
    uri = f"/settings?tx={tx}"
    assert err == (
        "Json deserialize error: unknown field `motdx` "
        f"(Failed to apply settings: Failed to PATCH settings from '{two_sources[1]}' to '{uri}', status 400)\n"
    )
    assert [(r.method, r.uri) for r in peer.requests] == [("PATCH", uri), ("PATCH", uri), ("DELETE", f"/tx?tx={tx}")]


def test_apply_commit_failure_message(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, two_sources: tuple[str, str]
) -> None:
    peer.route("POST", "/tx/commit_and_apply", NO_PENDING)
    code, _, err = run(capsys, peer, "apply", two_sources[0])
    assert code == 1
    tx = tx_of(peer.requests[0], TX_APPLY)
    uri = f"/tx/commit_and_apply?tx={tx}"
    assert err == (
        "Tried to commit with no pending changes "
        f"(Failed to apply settings: Failed to commit combined settings to '{uri}', status 422)\n"
    )
    assert peer.requests[-1].uri == f"/tx?tx={tx}"


def test_apply_fetches_http_sources(capsys: pytest.CaptureFixture[str], peer: ApiPeer, http_files: HttpFiles) -> None:
    a = http_files.add("/a.toml", '[settings.ntp]\ntime-servers = ["x"]\n')
    b = http_files.add("/b.json", '{"settings": {"motd": "B"}}')
    assert run(capsys, peer, "apply", a, b)[0] == 0
    assert [r.body for r in peer.requests[:2]] == [b'{"ntp":{"time-servers":["x"]}}', b'{"motd":"B"}']


def test_apply_http_error_sends_nothing(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, http_files: HttpFiles
) -> None:
    missing = http_files.url("/missing.toml")
    code, _, err = run(capsys, peer, "apply", missing)
    assert code == 1
    assert err.startswith(f"Failed to apply settings: Failed GET request to '{missing}': HTTP Error 404")
    assert peer.requests == []


def test_apply_many_sources_keeps_their_order(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, tmp_path: Path
) -> None:
    uris = []
    for i in range(10):
        path = tmp_path / f"{i}.toml"
        path.write_text(f'[settings]\nmotd = "{i}"\n')
        uris.append(path.as_uri())
    assert run(capsys, peer, "apply", *uris)[0] == 0
    assert [r.json() for r in peer.requests[:-1]] == [{"motd": str(i)} for i in range(10)]


def test_apply_reads_stdin_by_default(peer: ApiPeer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "thar.apiclient", "-s", peer.socket_path, "apply"],
        input=b'[settings]\nmotd = "from stdin"\n',
        capture_output=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert peer.requests[0].json() == {"motd": "from stdin"}


# -- get


def by_prefix(request: Recorded) -> tuple[int, str]:
    answers = {
        "settings.motd": {"settings": {"motd": "hello"}},
        "os.arch": {"os": {"arch": "x86_64"}},
        "os.": {"os": {"arch": "x86_64", "variant_id": "thar-dev"}},
        "settings.": {"settings": {"motd": "hello", "ntp": {"time-servers": ["a"]}}},
        "settings.ntp": {"settings": {"ntp": {"time-servers": ["b"]}}},
        "motd": {},
    }
    return 200, json.dumps(answers[request.query["prefix"]])


def test_get_prefixes_are_fetched_in_order_and_merged(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", by_prefix)
    code, out, err = run(capsys, peer, "get", "settings.motd", "os.arch")
    assert (code, err) == (0, "")
    assert peer.sent() == [("GET", "/?prefix=settings.motd"), ("GET", "/?prefix=os.arch")]
    assert json.loads(out) == {"os": {"arch": "x86_64"}, "settings": {"motd": "hello"}}
    assert out == json.dumps(json.loads(out), indent=2) + "\n"


def test_get_without_arguments_fetches_os_then_settings(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", by_prefix)
    code, out, _ = run(capsys, peer, "get")
    assert code == 0
    assert peer.sent() == [("GET", "/?prefix=os."), ("GET", "/?prefix=settings.")]
    assert json.loads(out)["os"]["variant_id"] == "thar-dev"


def test_get_later_prefixes_win(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", by_prefix)
    _, out, _ = run(capsys, peer, "get", "settings.", "settings.ntp")
    assert json.loads(out) == {"settings": {"motd": "hello", "ntp": {"time-servers": ["b"]}}}


def test_get_has_no_implicit_settings_prefix(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", by_prefix)
    assert run(capsys, peer, "get", "motd")[1] == "{}\n"


def test_get_uri_prints_the_response_pretty(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/settings", (200, '{"motd":"héllo","ntp":{"time-servers":["a"]}}'))
    code, out, _ = run(capsys, peer, "get", "/settings?keys=settings.motd")
    assert code == 0
    assert peer.sent() == [("GET", "/settings?keys=settings.motd")]
    assert out == '{\n  "motd": "héllo",\n  "ntp": {\n    "time-servers": [\n      "a"\n    ]\n  }\n}\n'


def test_get_verbose_logs_each_request_on_stderr(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", by_prefix)
    code, out, err = run(capsys, peer, "-v", "get", "settings.motd")
    assert (code, json.loads(out)) == (0, {"settings": {"motd": "hello"}})
    lines = err.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"[DEBUG] GET /?prefix=settings.motd on {peer.socket_path}",
        "[DEBUG] GET /?prefix=settings.motd -> 200",
    ]
    # The next run at the default level resets the level: no debug lines.
    assert run(capsys, peer, "get", "settings.motd")[2] == ""


def test_get_verbose_logs_in_a_fresh_process(peer: ApiPeer) -> None:
    peer.route("GET", "/", by_prefix)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "thar.apiclient",
            "--log-level",
            "trace",
            "-s",
            peer.socket_path,
            "get",
            "settings.motd",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert (result.returncode, json.loads(result.stdout)) == (0, {"settings": {"motd": "hello"}})
    assert "[DEBUG] GET /?prefix=settings.motd -> 200" in result.stderr


def test_get_of_a_non_json_response_prints_it_as_text(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/report/cis", (200, "not json"))
    code, out, err = run(capsys, peer, "get", "/report/cis")
    assert (code, out, err) == (0, "not json\n", "")


def test_a_long_non_json_answer_to_a_prefix_is_cut_short(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", (200, "# metrics\n" * 1000))
    code, out, err = run(capsys, peer, "get", "settings.motd")
    assert (code, out) == (1, "")
    assert err.startswith("Failed to get settings: Response contained invalid JSON '# metrics")
    assert "… (10000 characters)" in err and len(err) < 400


def test_get_of_an_unknown_prefix_asks_again_strictly(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", (200, "{}"))
    code, out, _ = run(capsys, peer, "get", "settings.motdd")
    assert (code, out) == (0, "{}\n")  # a server without the check (Bottlerocket's) answers {} again
    assert peer.sent() == [("GET", "/?prefix=settings.motdd"), ("GET", "/?prefix=settings.motdd&strict=true")]


def test_get_failure_message(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", (400, "Input 'prefix' cannot be empty"))
    code, _, err = run(capsys, peer, "get", "x")
    assert code == 1
    assert err == (
        "Input 'prefix' cannot be empty (Failed to get settings: Failed GET request to '/?prefix=x', status 400)\n"
    )


# -- raw


def test_raw_404_prints_the_error_and_nothing_on_stdout(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert run(capsys, peer, "raw", "-u", "/nope") == (
        1,
        "",
        "Failed GET request to '/nope': Status 404 when GETing /nope: \n",
    )


def test_raw_verbose_prints_the_status_line_on_stderr(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    code, out, err = run(capsys, peer, "-v", "raw", "-u", "/tx/list")
    assert (code, out) == (0, "[]\n")
    assert "200 OK" in err.splitlines()


def test_raw_prints_no_status_line_by_default(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert run(capsys, peer, "-u", "/tx/list") == (0, "[]\n", "")


def test_raw_empty_body_prints_nothing(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    code, out, err = run(capsys, peer, "raw", "-u", "/settings?tx=t", "-m", "PATCH", "-d", '{"motd":"x"}', "-v")
    assert (code, out) == (0, "")
    assert "204 No Content" in err.splitlines()
    assert (peer.requests[0].method, peer.requests[0].body) == ("PATCH", b'{"motd":"x"}')


def test_raw_sends_the_method_verbatim(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    code, _, err = run(capsys, peer, "raw", "-u", "/tx/list", "-X", "get")
    assert code == 1
    assert peer.sent() == [("get", "/tx/list")]
    assert err == "Failed get request to '/tx/list': Status 404 when geting /tx/list: \n"


# -- reboot


def test_reboot_posts_and_says_goodbye(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    code, out, err = run(capsys, peer, "reboot")
    assert (code, out) == (0, "")
    assert peer.sent() == [("POST", "/actions/reboot")]
    assert "[INFO] Rebooting, goodbye..." in err


def test_reboot_failure_message(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("POST", "/actions/reboot", (500, "Failed to reboot, exit code: 1, stderr: no"))
    code, _, err = run(capsys, peer, "reboot")
    assert code == 1
    assert err == (
        "Failed to reboot, exit code: 1, stderr: no "
        "(Failed to reboot: Failed POST request to '/actions/reboot', status 500)\n"
    )


def test_log_level_off_silences_logs(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    assert run(capsys, peer, "--log-level", "off", "reboot") == (0, "", "")


# -- report and ephemeral-storage: the body as is, no newline added


def test_report_echoes_the_body_without_a_newline(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/report/cis", (200, "Benchmark name:  CIS Bottlerocket Benchmark"))
    assert run(capsys, peer, "report", "cis", "-l", "2", "-f", "json") == (
        0,
        "Benchmark name:  CIS Bottlerocket Benchmark",
        "",
    )
    assert peer.sent() == [("GET", "/report/cis?type=bottlerocket&format=json&level=2")]


def test_report_fips_and_its_failure(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/report/fips", (500, "Unable to generate report: no bloodhound"))
    code, out, err = run(capsys, peer, "report", "fips")
    assert (code, out) == (1, "")
    assert peer.sent() == [("GET", "/report/fips?")]
    assert err == (
        "Unable to generate report: no bloodhound "
        "(Failed to get report: Failed GET request to '/report/fips?', status 500)\n"
    )


def test_ephemeral_storage_list_and_init(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/actions/ephemeral-storage/list-dirs", (200, "/var/lib/containerd\n/var/lib/host-containerd\n"))
    peer.route("POST", "/actions/ephemeral-storage/init", (204, ""))
    peer.route("POST", "/actions/ephemeral-storage/bind", (404, "No such directory: /var/lib/x"))
    assert run(capsys, peer, "ephemeral-storage", "list-dirs") == (
        0,
        "/var/lib/containerd\n/var/lib/host-containerd\n",
        "",
    )
    assert run(capsys, peer, "ephemeral-storage", "init", "-t", "xfs") == (0, "", "")
    assert peer.requests[1].json() == {"filesystem": "Xfs", "disks": None}
    code, _, err = run(capsys, peer, "ephemeral-storage", "bind", "--dirs", "/var/lib/x")
    assert code == 1
    assert err == (
        "No such directory: /var/lib/x "
        "(Failed to initialize ephemeral storage: "
        "Failed POST request to '/actions/ephemeral-storage/bind', status 404)\n"
    )


@pytest.mark.parametrize("argv", [["report", "cis"], ["ephemeral-storage", "list-disks"]])
def test_a_bare_404_means_the_server_has_no_such_verb(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, argv: list[str]
) -> None:
    code, out, err = run(capsys, peer, *argv)
    assert (code, out) == (1, "")
    assert err.startswith(f"'apiclient {argv[0]}' is not supported by thar yet")


# -- THAR_ROOT


def test_the_default_socket_follows_thar_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path
    if len(str(root / "run" / "api.sock")) > 100:  # AF_UNIX paths are short
        pytest.skip("temporary directory path too long for a Unix socket")
    (root / "run").mkdir()
    with running_peer(str(root / "run" / "api.sock")) as thar_peer:
        monkeypatch.setenv("THAR_ROOT", str(root))
        assert main(["raw", "-u", "/tx/list"]) == 0
        assert capsys.readouterr().out == "[]\n"
        assert thar_peer.sent() == [("GET", "/tx/list")]
    assert not os.path.exists("/run/api.sock") or True  # the real default was never needed


# -- library: staging without a commit (early-boot-config, sundog)


def test_patch_settings_stages_in_the_given_transaction_without_committing(peer: ApiPeer) -> None:
    from thar.apiclient import patch_settings

    patch_settings(peer.socket_path, {"motd": "from user data"}, "bottlerocket-launch")
    assert peer.sent() == [("PATCH", "/settings?tx=bottlerocket-launch")]
    assert peer.requests[0].json() == {"motd": "from user data"}


def test_library_set_returns_its_transaction(peer: ApiPeer) -> None:
    from thar.apiclient import set_settings

    tx = set_settings(peer.socket_path, {"motd": "x"})
    assert TX_SET.fullmatch(tx)
    assert peer.sent() == [("PATCH", f"/settings?tx={tx}"), ("POST", f"/tx/commit_and_apply?tx={tx}")]


def test_a_reader_that_goes_away_gets_no_traceback(peer: ApiPeer) -> None:
    peer.route("GET", "/big", (200, json.dumps(["x" * 100] * 20000)))
    process = subprocess.Popen(
        [sys.executable, "-m", "thar.apiclient", "-s", peer.socket_path, "raw", "-u", "/big"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(30) in (0, 1)  # 0 where the pipe took everything before the reader left
    assert b"Traceback" not in stderr
    assert b"Exception ignored" not in stderr
