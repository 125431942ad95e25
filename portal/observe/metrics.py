"""The figures behind ``/metrics``, in Prometheus' text format.

Two kinds of figure, each counted where it is right across many processes and machines:

- **Requests per route** (count by status, latency histogram) are counted in the process that
  served them, with ``prometheus_client``. Under gunicorn each worker process counts its own;
  with ``PROMETHEUS_MULTIPROC_DIR`` set (production, see README) every process writes its
  counts to a file in that directory and a scrape adds up all files, including those of
  workers that have since been replaced, so the totals neither depend on which worker answers
  the scrape nor go back when one restarts. A database row per request would be right too, but
  would put a write on the token API's hot path; a memory-mapped file costs microseconds.
  Each machine is its own scrape target.
- **Everything about the fleet** (refreshes by outcome and data centre, grants by status,
  queue depth, failed jobs, live workers, rejected clients) is read from PostgreSQL at scrape
  time through the staff upkeep page's report (``portal.upkeep.report``): one source of truth,
  the same on every machine.

Labels are bounded and public: a route pattern (never a path), a method, a status code, a data
centre, a grant status, a task name. Never an email, a grant id, a key or a token.
"""

import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from portal.upkeep.report import UpkeepReport, upkeep_report

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "deskconnect"
# The token API answers in about a millisecond; the default buckets start at 5 ms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_PROCESS = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by URL pattern, method and status code.",
    ["route", "method", "status"],
    registry=_PROCESS,
)
LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from the first middleware to the response, by URL pattern and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
    registry=_PROCESS,
)

DESK_PROXY_CALLS = Counter(
    f"{PREFIX}_desk_proxy_calls",
    "Calls through the Desk proxy, by method and outcome (Desk's status class, or why not sent).",
    ["method", "outcome"],
    registry=_PROCESS,
)


def count_desk_proxy_call(*, method: str, outcome: str) -> None:
    """Count one call through the Desk proxy (``outcome``: a short fixed word)."""
    DESK_PROXY_CALLS.labels(method, outcome).inc()


# The labelled children, found once per (route, method, status): ``labels()`` takes a lock and
# builds a key on every call, which is most of the cost on the token API's hot path.
_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request (called by ``portal.observe.middleware``)."""
    key = (route, method, status)
    children = _children.get(key)
    if children is None:
        children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
        _children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def render() -> bytes:
    """The whole page: this machine's request counts, then the fleet's figures."""
    report = upkeep_report(now=timezone.now())
    fleet = CollectorRegistry(auto_describe=True)
    fleet.register(_FleetCollector(report))
    return generate_latest(_request_registry()) + generate_latest(fleet)


@dataclass(frozen=True)
class RouteFigures:
    """Requests one URL pattern answered on this machine since the counts were last emptied."""

    route: str
    requests: int
    server_errors: int  # 5xx answers
    mean_ms: float


def route_figures() -> list[RouteFigures]:
    """The request counters as the staff upkeep page shows them, busiest route first."""
    requests: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    seconds: dict[str, float] = defaultdict(float)
    timed: dict[str, float] = defaultdict(float)
    for family in _request_registry().collect():
        for sample in family.samples:
            route = sample.labels.get("route", "")
            if sample.name == f"{PREFIX}_http_requests_total":
                requests[route] += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors[route] += sample.value
            elif sample.name == f"{PREFIX}_http_request_duration_seconds_sum":
                seconds[route] += sample.value
            elif sample.name == f"{PREFIX}_http_request_duration_seconds_count":
                timed[route] += sample.value
    rows = [
        RouteFigures(
            route=route,
            requests=int(count),
            server_errors=int(errors[route]),
            mean_ms=round(1000 * seconds[route] / timed[route], 1) if timed[route] else 0.0,
        )
        for route, count in requests.items()
    ]
    return sorted(rows, key=lambda row: (-row.requests, row.route))


def _request_registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return _PROCESS  # one process (development, tests): its own counts are all counts
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class _FleetCollector(Collector):
    def __init__(self, report: UpkeepReport) -> None:
        self.report = report

    def collect(self) -> Iterator[Metric]:
        report = self.report
        grants = GaugeMetricFamily(f"{PREFIX}_grants", "Grants by status.", labels=["status"])
        for status, count in sorted(report.status_counts.items()):
            grants.add_metric([status], count)
        yield grants
        refreshes = GaugeMetricFamily(
            f"{PREFIX}_refreshes_last_hour",
            "Token refreshes recorded in the last hour, by data centre and outcome.",
            labels=["data_centre", "outcome"],
        )
        for data_centre, outcome, count in report.refreshes_last_hour:
            refreshes.add_metric([data_centre, outcome], count)
        yield refreshes
        yield GaugeMetricFamily(
            f"{PREFIX}_jobs_waiting", "Jobs queued and not started.", value=report.queue_length
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_jobs_running", "Jobs a worker is running now.", value=report.running
        )
        failed = GaugeMetricFamily(
            f"{PREFIX}_jobs_failed", "Jobs that failed for good, by task.", labels=["task"]
        )
        for task, count in report.failed_jobs:
            failed.add_metric([task], count)
        yield failed
        yield GaugeMetricFamily(
            f"{PREFIX}_workers_live",
            "Workers with a heartbeat in the last minute.",
            value=report.live_workers,
        )
        rejected = GaugeMetricFamily(
            f"{PREFIX}_client_rejected",
            "1 for each data centre whose Zoho rejects the portal's client (refreshes paused).",
            labels=["data_centre"],
        )
        for rejection in report.client_rejections:
            rejected.add_metric([rejection.data_centre], 1)
        yield rejected
