"""``GET /metrics``: the server's counters and histograms in Prometheus text format.

Each application has its own metrics (several servers can live in one test process):

- ``thar_api_requests_total{method,route,status}``, ``thar_api_request_duration_seconds{method,route}``
- ``thar_commits_total``, ``thar_committed_keys_total``, ``thar_generation``
- ``thar_applier_runs_total{result}``, ``thar_applier_duration_seconds`` (until the applier's
  first process exits: it forks its work)
- ``thar_confirm_reverts_total``, ``thar_watches_waiting``, ``thar_access_denied_total``
- ``thar_boot_step_duration_seconds{step,unit,status}``, ``thar_boot_duration_seconds``: the
  last boot's timeline, as ``thar-boot`` writes it (``run/thar/boot-timeline.json``), read at
  each scrape
- ``thar_generator_duration_seconds{setting,result}``, ``thar_generators_duration_seconds``: sundog's
  last run (``run/thar/generators.json``), read at each scrape

Counting is plain arithmetic on the event loop (the commit counters in the writer thread, their
only writer): a request costs an addition or two, no lock and no label lookup. The Prometheus
client library only formats a scrape (``exposition.py``), so it is loaded on the first one.
Counters and histograms carry their ``_created`` series, as the library's own objects would.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from pathlib import Path
from typing import Generic, TypeVar

from thar.datastore import Commit

__all__ = ["CONTENT_TYPE", "Count", "Family", "Level", "Metrics", "RouteMetrics", "Timings"]

CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"  # Prometheus text format 1.0.0
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BOUNDS = (*LATENCY_BUCKETS, float("inf"))  # each histogram bucket's upper bound, ``le``


class Count:
    """A counter's value (one series)."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value, self.created = 0.0, time.time()

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class Level:
    """A gauge's value."""

    __slots__ = ("value",)

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1

    def set(self, value: float) -> None:
        self.value = float(value)


class Timings:
    """A histogram of durations over ``BOUNDS`` (one series)."""

    __slots__ = ("counts", "created", "sum")

    def __init__(self) -> None:
        self.counts, self.sum, self.created = [0.0] * len(BOUNDS), 0.0, time.time()

    def observe(self, seconds: float) -> None:
        self.sum += seconds
        index = bisect_left(BOUNDS, seconds)  # the first bucket with seconds <= its bound
        if index < len(BOUNDS):
            self.counts[index] += 1


T = TypeVar("T", Count, Timings)


class Family(Generic[T]):
    """A labelled metric: one series per distinct label values, made on first use, kept in that order."""

    def __init__(self, make: type[T]) -> None:
        self.make: type[T] = make
        self.series: dict[tuple[str, ...], T] = {}

    def labels(self, *values: str) -> T:
        found = self.series.get(values)
        if found is None:
            found = self.series[values] = self.make()
        return found


class RouteMetrics:
    """One route's request counters (by status) and latency histogram, each made once, on first
    use: a request only adds."""

    __slots__ = ("_counts", "_latency", "_method", "_metrics", "_route")

    def __init__(self, metrics: Metrics, method: str, route: str) -> None:
        self._metrics, self._method, self._route = metrics, method, route
        self._counts: dict[int, Count] = {}
        self._latency: Timings | None = None

    def record(self, status: int, seconds: float) -> None:
        counter = self._counts.get(status)
        if counter is None:
            counter = self._counts[status] = self._metrics.requests.labels(self._method, self._route, str(status))
        counter.value += 1
        latency = self._latency
        if latency is None:
            latency = self._latency = self._metrics.latency.labels(self._method, self._route)
        latency.observe(seconds)


class Metrics:
    """One server's metrics."""

    def __init__(
        self, generation: int = 0, boot_timeline: Path | None = None, generator_timeline: Path | None = None
    ) -> None:
        self.boot_timeline = boot_timeline
        self.generator_timeline = generator_timeline
        self.requests = Family(Count)  # method, route, status
        self.latency = Family(Timings)  # method, route
        self.commits = Count()
        self.committed_keys = Count()
        self.generation = Level(generation)
        self.applier_runs = Family(Count)  # result
        self.applier_duration = Timings()
        self.confirm_reverts = Count()
        self.watches = Level()
        self.denied = Count()
        for result in ("ok", "failed"):
            self.applier_runs.labels(result)
        self._routes: dict[tuple[str, str], RouteMetrics] = {}

    def route(self, method: str, route: str) -> RouteMetrics:
        """The recorder of requests to ``method route`` (``route``: its path pattern, or ``unmatched``)."""
        found = self._routes.get((method, route))
        if found is None:
            found = self._routes[(method, route)] = RouteMetrics(self, method, route)
        return found

    def record_commit(self, commit: Commit) -> None:
        """A controller listener: count a commit (any thread)."""
        self.commits.inc()
        self.committed_keys.inc(len(commit.changes))
        self.generation.set(commit.generation)

    def render(self) -> bytes:
        from .exposition import render  # the Prometheus client library, loaded on the first scrape

        return render(self)
