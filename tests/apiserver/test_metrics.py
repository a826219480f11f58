"""``GET /metrics``: Prometheus text format from the real server, counting what it did."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pytest import MonkeyPatch

from early_boot_config.boot import StepResult

from .conftest import Api, MakeServer


def samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.get("/metrics")
    assert response.status == 200
    assert (response.content_type or "").startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_requests_commits_and_applier_runs(api: Api) -> None:
    api.patch_ok("/settings", {"motd": "counted"})
    assert api.post("/tx/commit_and_apply").status == 200
    assert api.get("/nope").status == 404
    api.set_applier(exit_code=3)
    api.patch_ok("/settings", {"motd": "applier fails"})
    assert api.post("/tx/commit_and_apply").status == 500
    found = samples(api)
    assert found[("thar_commits_total", ())] == 2
    assert found[("thar_committed_keys_total", ())] == 2
    assert found[("thar_generation", ())] == 2
    assert found[("thar_applier_runs_total", (("result", "ok"),))] == 1
    assert found[("thar_applier_runs_total", (("result", "failed"),))] == 1
    assert found[("thar_applier_duration_seconds_count", ())] == 2
    route = (("method", "POST"), ("route", "/tx/commit_and_apply"))
    assert found[("thar_api_requests_total", (*route, ("status", "200")))] == 1
    assert found[("thar_api_requests_total", (*route, ("status", "500")))] == 1
    assert found[("thar_api_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    assert found[("thar_api_request_duration_seconds_count", route)] == 2
    assert found[("thar_watches_waiting", ())] == 0


def test_a_fresh_server_reports_its_generation(ro_api: Api) -> None:
    found = samples(ro_api)
    assert found[("thar_generation", ())] == 0
    assert found[("thar_commits_total", ())] == 0


def test_the_boot_timeline_is_reported(make_server: MakeServer, tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    """The timeline thar-boot writes under ``$THAR_ROOT/run/thar`` (in its own format) shows as gauges."""
    steps = [StepResult("storewolf", "storewolf.service", "ok", 0.0, 0.25),
             StepResult("sundog", "sundog.service", "failed", 0.25, 1.5, "exit 1")]  # fmt: skip
    timeline = tmp_path / "root/run/thar/boot-timeline.json"
    timeline.parent.mkdir(parents=True)
    timeline.write_text(json.dumps({"total": 1.75, "steps": [step.as_json() for step in steps]}))
    monkeypatch.setenv("THAR_ROOT", str(tmp_path / "root"))
    server = make_server(start=False)
    server.start()
    found = samples(Api(server))
    step = "thar_boot_step_duration_seconds"
    assert found[(step, (("status", "ok"), ("step", "storewolf"), ("unit", "storewolf.service")))] == 0.25
    assert found[(step, (("status", "failed"), ("step", "sundog"), ("unit", "sundog.service")))] == 1.5
    assert found[("thar_boot_duration_seconds", ())] == 1.75
