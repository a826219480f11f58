"""``GET /metrics``: the server's counters and histograms in Prometheus text format.

Each application has its own registry (several servers can live in one test process):

- ``thar_api_requests_total{method,route,status}``, ``thar_api_request_duration_seconds{method,route}``
- ``thar_commits_total``, ``thar_committed_keys_total``, ``thar_generation``
- ``thar_applier_runs_total{result}``, ``thar_applier_duration_seconds`` (until the applier's
  first process exits: it forks its work)
- ``thar_confirm_reverts_total``, ``thar_watches_waiting``, ``thar_access_denied_total``
- ``thar_boot_step_duration_seconds{step,unit,status}``, ``thar_boot_duration_seconds``: the
  last boot's timeline, as ``thar-boot`` writes it (``run/thar/boot-timeline.json``), read at
  each scrape
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from datastore import Commit

__all__ = ["CONTENT_TYPE", "BootTimeline", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BootTimeline(Collector):
    """The boot timeline file as gauges; nothing when it is missing or unreadable."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            steps = [(str(s["name"]), str(s["unit"]), str(s["status"]), float(s["seconds"])) for s in data["steps"]]
            total = float(data["total"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        family = GaugeMetricFamily(
            "thar_boot_step_duration_seconds",
            "Duration of each step of the last boot",
            labels=["step", "unit", "status"],
        )
        for name, unit, status, seconds in steps:
            family.add_metric([name, unit, status], seconds)
        yield family
        yield GaugeMetricFamily("thar_boot_duration_seconds", "Duration of the last boot", value=total)


class Metrics:
    """One server's metrics."""

    def __init__(self, generation: int = 0, boot_timeline: Path | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        if boot_timeline is not None:
            r.register(BootTimeline(boot_timeline))
        self.requests = Counter("thar_api_requests", "API requests answered", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "thar_api_request_duration_seconds", "Time to answer an API request", ["method", "route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.commits = Counter("thar_commits", "Commits (generations) made by this server", registry=r)
        self.committed_keys = Counter("thar_committed_keys", "Settings keys changed by commits", registry=r)
        self.generation = Gauge("thar_generation", "The newest generation of live settings", registry=r)
        self.generation.set(generation)
        self.applier_runs = Counter("thar_applier_runs", "Settings applier runs", ["result"], registry=r)
        self.applier_duration = Histogram(
            "thar_applier_duration_seconds", "Time from starting the settings applier to its first process's exit",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.confirm_reverts = Counter(
            "thar_confirm_reverts", "Commits reverted because no confirmation came in time", registry=r
        )
        self.watches = Gauge("thar_watches_waiting", "Watch requests waiting for a change", registry=r)
        self.denied = Counter("thar_access_denied", "Requests refused by the access policy", registry=r)
        for result in ("ok", "failed"):
            self.applier_runs.labels(result)

    def record_commit(self, commit: Commit) -> None:
        """A controller listener: count a commit (any thread)."""
        self.commits.inc()
        self.committed_keys.inc(len(commit.changes))
        self.generation.set(commit.generation)

    def render(self) -> bytes:
        return generate_latest(self.registry)
