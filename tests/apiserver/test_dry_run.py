"""Dry run (``POST /tx/commit_and_apply?dry_run=true``, ``apiclient set --dry-run``): the diff of the
configuration files a commit would change and the restarts it would run, committing and writing
nothing. The server runs over the thar-dev variant's defaults with its templates under a sandbox
root (``THAR_ROOT``), as ``./dev run`` lays them out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thar import variants

from .conftest import Api, ServerProcess
from .test_schemathesis import seed_datastore


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Api, Path]]:
    root = tmp_path / "root"
    shutil.copytree(variants.path("thar-dev") / "templates", root / "usr/share/templates")
    (root / "etc").mkdir(parents=True)
    (root / "etc/motd").write_text("Welcome to thar!\n")
    workdir = tmp_path / "server"
    seed_datastore(workdir / "datastore")
    server = ServerProcess(base=workdir / "datastore", workdir=workdir, variant="thar-dev")
    monkeypatch.setenv("THAR_ROOT", str(root))
    server.start()
    try:
        yield Api(server), root
    finally:
        code = server.stop()
        assert code == 0, server.log()


def dry_run(api: Api, tx: str = "default") -> Any:
    response = api.post(f"/tx/commit_and_apply?tx={tx}&dry_run=true")
    assert response.status == 200, response.text
    return response.json()


def test_a_dry_run_shows_the_diff_and_the_restarts_and_changes_nothing(dev: tuple[Api, Path]) -> None:
    api, root = dev
    before = api.get_json("/settings")
    api.patch_ok("/settings?tx=try", {"motd": "Dry run!", "ntp": {"time-servers": ["dry.example"]}})
    result = dry_run(api, "try")
    assert result["keys"] == ["settings.motd", "settings.ntp.time-servers"]
    diff = result["diff"]
    assert f"--- {root / 'etc/motd'}\n+++ {root / 'etc/motd'}\n" in diff
    assert "-Welcome to thar!\n+Dry run!\n" in diff
    assert f"# chrony-conf: new file {root / 'etc/chrony.conf'}" in diff  # not on disk yet
    assert "+pool dry.example" in diff
    services = {restart["service"] for restart in result["restarts"]}
    assert {"motd", "chronyd"} <= services
    chronyd = next(r for r in result["restarts"] if r["service"] == "chronyd")
    assert chronyd["commands"] and all(f"would restart chronyd: CHANGED_SETTINGS='settings.ntp.time-servers' {c}"
                                       in diff for c in chronyd["commands"])  # fmt: skip
    # Nothing was committed, written, applied or dropped.
    assert api.get_json("/settings") == before
    assert api.get_json("/tx?tx=try")["motd"] == "Dry run!"
    assert (root / "etc/motd").read_text() == "Welcome to thar!\n"
    assert not (root / "etc/chrony.conf").exists()
    assert api.applier_calls() == []
    assert api.get_json("/tx/history") == []


def test_a_dry_run_of_a_reset_and_of_nothing(dev: tuple[Api, Path]) -> None:
    api, root = dev
    assert api.request("DELETE", "/settings?keys=motd&tx=reset").status == 204
    result = dry_run(api, "reset")
    assert result["keys"] == ["settings.motd"]
    assert str(root / "etc/motd") not in result["diff"]  # the default is what the file already says
    response = api.post("/tx/commit_and_apply?tx=nothing&dry_run=true")
    assert (response.status, response.text) == (422, "Tried to commit with no pending changes")
    response = api.post("/tx/commit_and_apply?tx=reset&dry_run=yes")
    assert response.status == 400


def test_apiclient_set_dry_run_prints_the_diff_and_leaves_nothing(dev: tuple[Api, Path]) -> None:
    api, root = dev
    argv = [sys.executable, "-m", "thar.apiclient", "-s", str(api.server.socket_path), "set", "--dry-run", "motd=cli"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "-Welcome to thar!\n+cli\n" in result.stdout
    assert api.get_json("/tx/list") == []
    assert (root / "etc/motd").read_text() == "Welcome to thar!\n"


def test_apiclient_apply_dry_run_reads_the_sources_and_leaves_nothing(dev: tuple[Api, Path]) -> None:
    api, root = dev
    argv = [sys.executable, "-m", "thar.apiclient", "-s", str(api.server.socket_path), "apply", "--dry-run"]
    document = '[settings]\nmotd = "from apply"\n'
    result = subprocess.run(argv, input=document, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "-Welcome to thar!\n+from apply\n" in result.stdout
    assert api.get_json("/tx/list") == []
    assert api.get_json("/settings?keys=settings.motd") == {"motd": "Welcome to thar!"}
    assert (root / "etc/motd").read_text() == "Welcome to thar!\n"
