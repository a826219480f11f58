"""The update routes through the real apiserver over its socket, running the real dispatcher
(``python -m thar.thar_be_updates``) and the updog stand-in: statuses, bodies, the 423 window."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.apiserver.conftest import ApiClient

from .conftest import ARCH, OS_RELEASE, System, make_system, updates_server, wait_status

UNINITIALIZED = "Update status is uninitialized, refresh-updates to initialize it"


def test_status_before_any_command_is_404(api: ApiClient) -> None:
    response = api.get("/updates/status")
    assert (response.status, response.text) == (404, "Update status is uninitialized, refresh-updates to initialize it")


def test_refresh_prepare_activate_deactivate_through_the_api(api: ApiClient, system: System) -> None:
    response = api.post("/actions/refresh-updates")
    assert (response.status, response.body) == (204, b"")
    status = wait_status(api)
    assert status["update_state"] == "Available"
    assert status["most_recent_command"]["cmd_type"] == "refresh"
    assert status["most_recent_command"]["cmd_status"] == "Success"
    assert api.post("/actions/prepare-update").status == 204
    assert wait_status(api)["update_state"] == "Staged"
    assert api.post("/actions/activate-update").status == 204
    status = wait_status(api)
    assert status["update_state"] == "Ready"
    assert status["staging_partition"] == {
        "image": {"arch": ARCH, "version": "1.21.0", "variant": "aws-dev"},
        "next_to_boot": True,
    }
    assert api.post("/actions/deactivate-update").status == 204
    assert wait_status(api)["update_state"] == "Staged"


def test_exit_statuses_map_to_http(api: ApiClient, system: System) -> None:
    response = api.post("/actions/activate-update")
    assert (response.status, response.text) == (409, "Update action not allowed according to update state")
    assert wait_status(api)["update_state"] == "Idle"  # QUIRK: the refused command created the status
    status = json.loads(system.status_path.read_text())
    status["update_state"] = "Available"
    system.status_path.write_text(json.dumps(status))
    response = api.post("/actions/prepare-update")
    assert (response.status, response.text) == (404, "Previously chosen Update no longer exists")
    status["update_state"] = "Staged"
    system.status_path.write_text(json.dumps(status))
    response = api.post("/actions/activate-update")
    assert (response.status, response.text) == (404, "No update image applied to staging partition")
    system.status_path.write_text("{not json")
    assert api.post("/actions/refresh-updates").status == 500
    response = api.get("/updates/status")
    assert (response.status, response.text) == (500, "Update dispatcher failed")


def test_lock_held_while_updog_runs_answers_423(api: ApiClient, system: System) -> None:
    system.control(sleep=1.5)
    started = time.monotonic()
    assert api.post("/actions/refresh-updates").status == 204
    assert time.monotonic() - started < 1.5  # the request did not wait for updog
    response = api.post("/actions/refresh-updates")
    assert (response.status, response.text) == (423, "Update lock held")
    response = api.get("/updates/status")
    assert response.status == 423
    assert response.text.startswith("Unable to obtain shared lock for reading update status: ")
    assert wait_status(api)["update_state"] == "Available"
    assert api.post("/actions/prepare-update").status == 204  # the lock was released
    assert wait_status(api)["update_state"] == "Staged"


def test_dispatcher_that_cannot_start_is_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system: System) -> None:
    with updates_server(tmp_path, monkeypatch, system, dispatcher=str(tmp_path / "no-such-dispatcher")) as server:
        api = ApiClient(server.socket_path)
        response = api.post("/actions/refresh-updates")
        assert response.status == 500
        assert response.text.startswith("Unable to start the update dispatcher: ")
        assert response.text.endswith(" ")


def test_image_without_in_place_updates_refuses_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = make_system(tmp_path / "sys", dual=False, os_release=OS_RELEASE + "IN_PLACE_UPDATES=false\n")
    with updates_server(tmp_path, monkeypatch, system) as server:
        api = ApiClient(server.socket_path)
        for method, path in [("GET", "/updates/status"), ("POST", "/actions/refresh-updates"),
                             ("POST", "/actions/prepare-update"), ("POST", "/actions/activate-update"),
                             ("POST", "/actions/deactivate-update")]:  # fmt: skip
            response = api.get(path) if method == "GET" else api.post(path)
            assert response.status == 501, path
            assert "updated by replacing it with a new image" in response.text
            assert "Failed to find guid partition" not in response.text
    assert system.updog_calls() == []


def test_a_fresh_root_without_run_directories_answers_the_status_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sandbox or a host booted without tmpfiles: /run/lock and /run/cache/thar-be-updates do
    not exist; the status route and the dispatcher make them (0755) instead of failing."""
    system = make_system(tmp_path / "system")
    shutil.rmtree(system.root / "run/lock")
    shutil.rmtree(system.root / "run/cache")  # run/signpost (the boot state) stays
    with updates_server(tmp_path, monkeypatch, system) as server:
        api = ApiClient(server.socket_path)
        response = api.get("/updates/status")
        assert (response.status, response.text) == (404, UNINITIALIZED)
        assert (system.root / "run/lock").stat().st_mode & 0o777 == 0o755
        assert api.post("/actions/refresh-updates").status == 204
        assert wait_status(api)["update_state"] == "Available"
        assert (system.root / "run/cache/thar-be-updates").stat().st_mode & 0o777 == 0o755
