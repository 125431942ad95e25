"""``make bench``: the token API under gunicorn, side by side with a bare Django app.

(a) a bare Django app's one JSON view (``bench/bare_app.py``: no middleware, no database, the
same gunicorn settings), then the portal's ``GET /api/v1/ping`` and its hot path
(``POST /api/v1/grants/{id}/access-token`` on a grant whose access token is fresh), each with
wrk at 8 connections; (b) 200 callers at once on a grant
whose access token expired while the sandbox answers refreshes 200 ms late; (c) the peak RSS of
each gunicorn worker. Everything is set up here and stopped again; results go to
bench/RESULTS.md. Run as ``python -m bench.token_api`` from the project root.
"""

import argparse
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx2
import psutil

from bench import report, servers
from bench.cpu import CpuUse, metered
from bench.dbstats import Activity, StatsReader
from bench.fixtures import Fixtures, create_fixtures, expire
from bench.load import BurstResult, WrkResult, burst, run_wrk, wrk_path
from bench.results import publish
from tests.sandbox_control import SandboxControl

if TYPE_CHECKING:
    from bench.profile import Profile

CONNECTIONS = 8
CALLERS = 200
REFRESH_LATENCY = 0.2  # seconds the sandbox adds to each refresh in (b)
WARM_UP_SECONDS = 3
PREPARED = "bench.settings_prepared"  # the what-if run when a target is missed


@dataclass(frozen=True)
class Bench:
    """What every measurement needs: the portal's environment and port, the data, probes."""

    env: dict[str, str]
    portal_port: int
    postmaster_pid: int
    control: SandboxControl
    fixtures: Fixtures
    stats: StatsReader


@dataclass(frozen=True)
class HotPath:
    """(a) for one worker class, with what the database did meanwhile."""

    bare: WrkResult
    ping: WrkResult
    hot: WrkResult
    bare_cpu: CpuUse
    ping_cpu: CpuUse
    hot_cpu: CpuUse
    hot_requests: int  # every POST to the hot path: check, warm-up and measured run
    activity: Activity
    refreshes: int
    rss_peaks: dict[int, int]

    @property
    def ratio(self) -> float:
        """The hot path's throughput as a share of the bare app's (the target)."""
        return self.hot.rps / self.bare.rps

    @property
    def p50_ratio(self) -> float:
        """The hot path's p50 as a multiple of the bare app's (the target)."""
        return self.hot.p50_ms / self.bare.p50_ms

    @property
    def ping_ratio(self) -> float:
        return self.hot.rps / self.ping.rps


@dataclass(frozen=True)
class ExpiredBurst:
    """(b) for one worker class."""

    result: BurstResult
    refreshes: int
    rss_peaks: dict[int, int]


@dataclass(frozen=True)
class ClassRun:
    worker_class: str
    a: HotPath
    b: ExpiredBurst


def main() -> int:
    options = _options()
    if wrk_path() is None:
        print("bench: wrk is not installed (Debian package `wrk`); SKIPPED.", file=sys.stderr)
        return 0
    started_at, load_average = datetime.now(UTC), os.getloadavg()
    with ExitStack() as stack:
        bench = _set_up(stack)
        runs = [_measure(bench, name, options.seconds) for name in options.worker_classes]
        profile, what_if = None, None
        if options.profile or not all(report.all_pass(run) for run in runs):
            profile = _profile(bench, options.worker_classes[0], options.seconds)
            _say("what-if: the same hot path with psycopg's prepared statements on")
            what_if = _hot_path(bench, options.worker_classes[0], options.seconds, PREPARED)
        machine = report.describe_machine(load_average)
    results = report.render(
        started_at=started_at,
        seconds=options.seconds,
        machine=machine,
        runs=runs,
        profile=profile,
        what_if=what_if,
    )
    publish("token_api", results)
    return 0


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument(
        "--worker-classes",
        type=lambda value: value.split(","),
        default=["sync", "gthread"],
        help="gunicorn worker classes to measure, comma-separated (default: sync,gthread); "
        "the first is the one profiled (and re-measured with prepared statements) when a "
        "target is missed",
    )
    parser.add_argument("--profile", action="store_true", help="profile even if targets pass")
    return parser.parse_args()


def _set_up(stack: ExitStack) -> Bench:
    """Databases, migrations, the sandbox's server, Django in this process, and the data."""
    base = servers.start_stack(stack, _say)
    stats = StatsReader(base.database.uri(servers.DATABASE_NAME))
    stack.callback(stats.close)
    _say("connecting two grants through the portal's flow and the sandbox's consent page")
    fixtures = create_fixtures(base.control)
    postmaster = base.database.server.get_postmaster_info().pid
    return Bench(base.env, base.portal_port, postmaster, base.control, fixtures, stats)


def _measure(bench: Bench, worker_class: str, seconds: int) -> ClassRun:
    _say(f"gunicorn with 2 {worker_class} workers")
    return ClassRun(
        worker_class, _hot_path(bench, worker_class, seconds), _burst(bench, worker_class)
    )


def _hot_path(
    bench: Bench, worker_class: str, seconds: int, settings_module: str = "portal.settings"
) -> HotPath:
    """(a): the bare app first, on a server of its own, then the portal on another, so its
    workers' database counters are complete at the end."""
    from django.db import connections

    bare, bare_cpu = _bare(bench, worker_class, seconds)
    connections.close_all()  # only the portal's workers on the database from here
    refreshes_before, before = _refreshes(bench), bench.stats.snapshot()
    env = {**bench.env, "DJANGO_SETTINGS_MODULE": settings_module}
    portal = servers.start_portal(env, bench.portal_port, worker_class)
    try:
        with servers.RssSampler(portal.process.pid) as rss:
            (ping, ping_cpu), (hot, hot_cpu), hot_requests = _ping_and_hot(bench, portal, seconds)
    finally:
        portal.stop()
    activity = bench.stats.snapshot() - before
    refreshes = _refreshes(bench) - refreshes_before
    return HotPath(
        bare,
        ping,
        hot,
        bare_cpu,
        ping_cpu,
        hot_cpu,
        hot_requests,
        activity,
        refreshes,
        rss.peaks,
    )


def _bare(bench: Bench, worker_class: str, seconds: int) -> tuple[WrkResult, CpuUse]:
    """The bare Django app under the same gunicorn settings: checked, warmed up, measured."""
    bare = servers.start_bare(bench.env, bench.portal_port, worker_class)
    try:
        url = f"{bare.base_url}{servers.BARE_PATH}"
        _check(httpx2.get(url, timeout=10), "ok")
        run_wrk("bare-warm-up", url, method="GET", seconds=WARM_UP_SECONDS, connections=CONNECTIONS)
        _say(f"wrk: the bare app, {seconds} s at {CONNECTIONS} connections")
        with metered(_process_groups(bench, bare)) as cpu:
            result = run_wrk("bare", url, method="GET", seconds=seconds, connections=CONNECTIONS)
    finally:
        bare.stop()
    return result, cpu


def _ping_and_hot(
    bench: Bench, portal: servers.Service, seconds: int
) -> tuple[tuple[WrkResult, CpuUse], tuple[WrkResult, CpuUse], int]:
    """One checked request each, a warm-up, then ping and the hot path for real; also how
    many requests went to the hot path in all."""
    ping_url = f"{portal.base_url}/api/v1/ping"
    hot_url = f"{portal.base_url}/api/v1/grants/{bench.fixtures.hot_grant_id}/access-token"
    auth = bench.fixtures.authorization
    _check(httpx2.get(ping_url, timeout=10), "ok")
    _check(httpx2.post(hot_url, headers={"Authorization": auth}, timeout=10), "access_token")
    runs = (("ping", "GET", ping_url), ("hot", "POST", hot_url))
    hot_requests = 1
    for label, method, url in runs:
        warm_up = run_wrk(
            f"{label}-warm-up",
            url,
            method=method,
            authorization=auth,
            seconds=WARM_UP_SECONDS,
            connections=CONNECTIONS,
        )
        hot_requests += warm_up.requests if label == "hot" else 0
    _say(f"wrk: ping, then the hot path, {seconds} s each at {CONNECTIONS} connections")
    measured = []
    for label, method, url in runs:
        with metered(_process_groups(bench, portal)) as cpu:
            result = run_wrk(
                label,
                url,
                method=method,
                authorization=auth,
                seconds=seconds,
                connections=CONNECTIONS,
            )
        measured.append((result, cpu))
    return measured[0], measured[1], hot_requests + measured[1][0].requests


def _check(response: httpx2.Response, field: str) -> None:
    if response.status_code != 200 or field not in response.json():
        raise RuntimeError(f"{response.request.url.path}: HTTP {response.status_code}")


def _process_groups(
    bench: Bench, portal: servers.Service
) -> dict[str, Callable[[], list[psutil.Process]]]:
    """The processes whose CPU time is metered: this run's workers and database backends."""

    def backends() -> list[psutil.Process]:
        children = psutil.Process(bench.postmaster_pid).children()
        return [p for p in children if f" {servers.DATABASE_NAME} " in " ".join(_cmdline(p))]

    return {
        "gunicorn workers": lambda: psutil.Process(portal.process.pid).children(),
        "PostgreSQL backends": backends,
        "bench driver": lambda: [psutil.Process()],
    }


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _burst(bench: Bench, worker_class: str) -> ExpiredBurst:
    """(b): CALLERS at once on the expired grant, refreshes 200 ms late at the sandbox."""
    expire(bench.fixtures.expired_grant_id)
    portal = servers.start_portal(bench.env, bench.portal_port, worker_class)
    try:
        with servers.RssSampler(portal.process.pid) as rss:
            hot_url = f"{portal.base_url}/api/v1/grants/{bench.fixtures.hot_grant_id}/access-token"
            auth = {"Authorization": bench.fixtures.authorization}
            _check(httpx2.post(hot_url, headers=auth, timeout=10), "access_token")  # warm
            before = _refreshes(bench)
            fault = bench.control.add_fault("latency", endpoint="refresh", seconds=REFRESH_LATENCY)
            _say(f"{CALLERS} callers at once on the expired grant")
            try:
                result = burst(
                    f"{portal.base_url}/api/v1/grants/{bench.fixtures.expired_grant_id}"
                    "/access-token",
                    authorization=bench.fixtures.authorization,
                    callers=CALLERS,
                )
            finally:
                bench.control.clear_fault(fault["id"])
    finally:
        portal.stop()
    return ExpiredBurst(result, _refreshes(bench) - before, rss.peaks)


def _refreshes(bench: Bench) -> int:
    """Refreshes that reached the sandbox so far (its request record)."""
    return len(bench.control.requests(endpoint="refresh"))


def _profile(bench: Bench, worker_class: str, seconds: int) -> "Profile | str":
    from bench import profile

    _say(f"profiling the hot path (py-spy on the {worker_class} workers)")
    portal = servers.start_portal(bench.env, bench.portal_port, worker_class)
    try:
        url = f"{portal.base_url}/api/v1/grants/{bench.fixtures.hot_grant_id}/access-token"
        return profile.hot_path(
            worker_pids=[child.pid for child in psutil.Process(portal.process.pid).children()],
            seconds=seconds,
            load=lambda: run_wrk(
                "hot-profiled",
                url,
                method="POST",
                authorization=bench.fixtures.authorization,
                seconds=seconds,
                connections=CONNECTIONS,
            ),
        )
    finally:
        portal.stop()


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
