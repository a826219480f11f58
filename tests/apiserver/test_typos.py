"""Typos are errors that name the setting and the nearest one; a setting without a value is `{}`.

Through the real `apiclient` against the real server (fixture F0).
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.apiserver.conftest import Api


def apiclient(api: Api, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "thar.apiclient", "-s", str(api.server.socket_path), *argv],
        capture_output=True, text=True, timeout=30, env=env, check=False,
    )  # fmt: skip


def test_get_of_a_misspelled_setting_suggests_the_nearest(api: Api) -> None:
    result = apiclient(api, "get", "settings.motdd")
    assert result.returncode == 1 and result.stdout == ""
    assert "settings.motdd: no such setting; did you mean settings.motd?" in result.stderr


def test_get_of_a_setting_outside_the_variant_is_an_error(api: Api) -> None:
    result = apiclient(api, "get", "settings.kubernetes")
    assert result.returncode == 1
    assert "settings.kubernetes: no such setting" in result.stderr


def test_get_without_settings_prefix_suggests_it(api: Api) -> None:
    result = apiclient(api, "get", "motd")
    assert result.returncode == 1
    assert "did you mean settings.motd?" in result.stderr


def test_get_of_a_valid_unset_setting_is_empty(api: Api) -> None:
    result = apiclient(api, "get", "settings.ntp.options")
    assert (result.returncode, result.stdout.strip()) == (0, "{}"), result.stderr


def test_the_api_keeps_bottlerocket_bodies_without_strict(api: Api) -> None:
    assert api.get_json("/?prefix=settings.motdd") == {}
    assert api.get_json("/settings?keys=settings.motdd") == {}
    response = api.get("/?prefix=settings.motdd&strict=true")
    assert response.status == 404 and "did you mean settings.motd?" in response.text
    response = api.get("/settings?keys=settings.motdd&strict=true")
    assert response.status == 404 and "did you mean settings.motd?" in response.text
    assert api.get_json("/settings?keys=settings.ntp.options&strict=true") == {}


def test_unset_of_a_misspelled_setting_fails(api: Api) -> None:
    result = apiclient(api, "unset", "motdd")
    assert result.returncode == 1
    assert "did you mean settings.motd?" in result.stderr
    result = apiclient(api, "unset", "nosuch")
    assert result.returncode == 1 and "settings.nosuch: no such setting" in result.stderr


def test_watch_of_an_unknown_prefix_fails_at_once(api: Api) -> None:
    result = apiclient(api, "watch", "nosuch.prefix")
    assert result.returncode == 1
    assert "settings.nosuch.prefix: no such setting" in result.stderr


def test_get_uri_of_text_prints_the_text(api: Api) -> None:
    result = apiclient(api, "get", "/metrics")
    assert result.returncode == 0, result.stderr
    assert "invalid JSON" not in result.stderr and result.stdout.startswith("#")


def test_patch_without_json_content_type_says_what_is_accepted(api: Api) -> None:
    response = api.patch("/settings", {"motd": "x"}, content_type="application/x-www-form-urlencoded")
    assert response.status == 400
    assert response.text.startswith("Content type error: send the body as JSON with 'Content-Type: application/json'")
    assert "not 'application/x-www-form-urlencoded'" in response.text


def test_unknown_field_suggests_the_nearest_name(api: Api) -> None:
    response = api.patch("/settings", {"motdd": "x"})
    assert response.status == 400
    assert response.text == "Json deserialize error: settings.motdd: unknown field; did you mean settings.motd?"


def test_a_refused_set_leads_with_the_setting_and_the_rule(api: Api) -> None:
    result = apiclient(api, "set", "updates.seed=x")
    assert result.returncode == 1 and result.stdout == ""
    line = result.stderr
    assert line.startswith('settings.updates.seed = "x": must be an integer'), line
    assert line.count("\n") == 1 and line.count("?tx=") == 1  # the transaction named once, as context
    assert line.rstrip().endswith(", status 400)")
    assert "(Failed to change settings: Failed PATCH request to '/settings/keypair?tx=apiclient-set-" in line
    assert api.get_json("/tx/list") == []  # nothing left staged


def test_the_library_keeps_bottlerocket_s_empty_answer(api: Api) -> None:
    """Programs built on the client library (sundog's generators) ask for prefixes a variant may
    not have, and get `{}` as from Bottlerocket; only the `apiclient get` command is strict."""
    from thar.apiclient import get_prefixes

    assert get_prefixes(api.server.socket_path, ["settings.kubernetes"]) == {}
