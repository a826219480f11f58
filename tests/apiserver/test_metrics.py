"""``GET /metrics``: Prometheus text format from the real server, counting what it did."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pytest import MonkeyPatch

from thar.sandbox.timeline import StepResult
from thar.sundog.cli import write_timeline
from thar.sundog.generate import Report

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


def test_the_generator_durations_are_reported(
    make_server: MakeServer, tmp_path: Path, monkeypatch: MonkeyPatch
) -> None:
    """sundog's last run, in the file sundog writes under ``$THAR_ROOT/run/thar``, shows as gauges."""
    report = Report(steps=[("settings.network.hostname", "generated", 0.125), ("settings.motd", "skipped", 0.5)])
    write_timeline(tmp_path / "root/run/thar/generators.json", report, 0.75)
    monkeypatch.setenv("THAR_ROOT", str(tmp_path / "root"))
    server = make_server(start=False)
    server.start()
    found = samples(Api(server))
    gauge = "thar_generator_duration_seconds"
    assert found[(gauge, (("result", "generated"), ("setting", "settings.network.hostname")))] == 0.125
    assert found[(gauge, (("result", "skipped"), ("setting", "settings.motd")))] == 0.5
    assert found[("thar_generators_duration_seconds", ())] == 0.75


def test_latency_histograms_are_cumulative_and_series_carry_created(api: Api) -> None:
    """Each route's histogram: cumulative buckets over the fixed bounds up to ``+Inf``, whose
    last bucket equals ``_count`` (one per request); counters and histograms carry ``_created``."""
    for _ in range(3):
        assert api.get("/settings?keys=settings.motd").status == 200
    assert api.get("/nope").status == 404
    response = api.get("/metrics")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    route = {"method": "GET", "route": "/settings"}
    latency = families["thar_api_request_duration_seconds"].samples
    buckets = [s for s in latency if s.name.endswith("_bucket") and {k: s.labels[k] for k in route} == route]
    bounds = [float(s.labels["le"]) for s in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf") and len(bounds) == 16
    counts = [s.value for s in buckets]
    assert counts == sorted(counts), "buckets must be cumulative"
    count = next(s.value for s in latency if s.name.endswith("_count") and s.labels == route)
    assert counts[-1] == count == 3
    assert next(s.value for s in latency if s.name.endswith("_sum") and s.labels == route) > 0
    unmatched = {"method": "GET", "route": "unmatched"}
    assert next(s.value for s in latency if s.name.endswith("_count") and s.labels == unmatched) == 1
    created = families["thar_api_requests_created"].samples  # the text format shows them as gauges
    assert {(s.labels["route"], s.labels["status"]) for s in created} >= {("/settings", "200"), ("unmatched", "404")}
    assert all(s.value > 1e9 for s in created)  # a Unix time
    assert families["thar_commits_created"].samples[0].value > 1e9
