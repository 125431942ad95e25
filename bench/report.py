"""bench/RESULTS.md: date, command, machine, figures, and PASS/MISS against each target."""

import os
import platform
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from bench.load import wrk_version
from bench.servers import THREADS, WORKERS

if TYPE_CHECKING:
    from bench.load import WrkResult
    from bench.profile import Profile
    from bench.token_api import ClassRun, HotPath

TARGET_RATIO = 0.50
TARGET_HOT_P50_MS = 2.5
CONNECTIONS = 8


def describe_machine(load_average: tuple[float, float, float]) -> dict[str, str]:
    from django import get_version
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {
        "CPU": f"{_cpu_model()}, nproc {len(os.sched_getaffinity(0))}",
        "memory": f"{_memory_gib():.1f} GiB",
        "kernel": platform.release(),
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in load_average),
        "Python": platform.python_version(),
        "Django": get_version(),
        "PostgreSQL": f"{postgres} (embedded, Unix socket)",
        "gunicorn": version("gunicorn"),
        "psycopg": version("psycopg"),
        "wrk": wrk_version(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return 0.0


def targets(run: "ClassRun") -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for one worker class: PASS, MISS, or UNEVEN when the
    workers shared (a) too unevenly for its throughput to be judged."""
    return [(label, measured, _verdict(met)) for label, measured, met in _checks(run)]


def _verdict(met: bool | None) -> str:
    return "UNEVEN" if met is None else "PASS" if met else "MISS"


def _uneven(a: "HotPath") -> bool:
    workers = "gunicorn workers"
    return max(a.ping_cpu.busiest_share(workers), a.hot_cpu.busiest_share(workers)) > 0.65


def _checks(run: "ClassRun") -> list[tuple[str, str, bool | None]]:
    a, b = run.a, run.b
    writes = a.activity
    return [
        (
            f"hot/ping throughput ≥ {TARGET_RATIO:.2f}",
            f"{a.ratio:.2f}",
            None if _uneven(a) else a.ratio >= TARGET_RATIO,
        ),
        (
            f"hot-path p50 ≤ {TARGET_HOT_P50_MS} ms at 8 connections",
            f"{a.hot.p50_ms:.2f} ms",
            a.hot.p50_ms <= TARGET_HOT_P50_MS,
        ),
        (
            "(a) every response 2xx, no socket errors",
            f"{a.ping.non_2xx_3xx + a.hot.non_2xx_3xx} non-2xx/3xx, "
            f"{a.ping.socket_errors + a.hot.socket_errors} socket errors",
            a.ping.all_ok and a.hot.all_ok,
        ),
        (
            "(a) hot path writes ≤ 1 issuance and audit event, refreshes nothing",
            f"{writes.issuances} issuance, {writes.audit_events} audit, {a.refreshes} refreshes",
            writes.issuances <= 1 and writes.audit_events <= 1 and a.refreshes == 0,
        ),
        ("(b) upstream refreshes = 1", str(b.refreshes), b.refreshes == 1),
        ("(b) errors = 0", str(b.result.errors), b.result.errors == 0),
        (
            "(b) every caller gets the same token",
            f"{b.result.distinct_tokens} distinct",
            b.result.distinct_tokens == 1,
        ),
    ]


def all_pass(run: "ClassRun") -> bool:
    return all(verdict == "PASS" for _, _, verdict in targets(run))


def render(
    *,
    started_at: datetime,
    seconds: int,
    machine: dict[str, str],
    runs: list["ClassRun"],
    profile: "Profile | str | None",
    what_if: "HotPath | None" = None,
) -> str:
    lines = [
        "# Token API benchmark",
        "",
        f"- Date: {started_at:%Y-%m-%d %H:%M} UTC",
        "- Command: `make bench` (runs `.venv/bin/python -m bench.token_api`)",
        f"- wrk: `wrk -t2 -c8 -d{seconds}s --latency` after a 3 s warm-up of each URL",
        "",
        *machine_section(machine, "## Machine"),
        *_setup(),
        "## Targets",
        "",
        *_target_table(runs),
        "",
        *_busy_machine(runs),
        *_balance(runs),
        *_littles_law(runs),
    ]
    for run in runs:
        lines += _hot_section(run, seconds) + _burst_section(run)
    lines += _profile_section(profile)
    if what_if is not None:
        lines += _what_if_section(runs[0], what_if)
    # One level down: the section sits under bench/RESULTS.md's own title.
    lines = [f"#{line}" if line.startswith("#") else line for line in lines]
    return "\n".join(lines).rstrip() + "\n"


def _setup() -> list[str]:
    return [
        "## Set-up",
        "",
        f"- Portal: gunicorn on 127.0.0.1, {WORKERS} workers, measured with `sync` workers and "
        f"with `gthread` workers ({THREADS} threads each); `DEBUG` off, random `SECRET_KEY` and "
        "`TOKEN_ENCRYPTION_KEYS`, the settings' defaults otherwise (`CONN_MAX_AGE` 60). A fresh "
        "server for (a) and another for (b).",
        "- Zoho sandbox: `manage.py runserver --noreload` in a separate process on its own "
        "loopback port with a database of its own (`DEBUG` on, which the sandbox requires); the "
        "portal reaches it through `SANDBOX_BASE_URL`.",
        "- Databases: `portal_bench` (migrated) and `portal_bench_sandbox` (a copy), created on "
        "the embedded PostgreSQL for the run and dropped afterwards.",
        "- Data: a user who connected two Zoho users through the portal's connect flow and the "
        "sandbox's consent page; a service key from `create_service_key`.",
        "- (a) `GET /api/v1/ping`, then `POST /api/v1/grants/{id}/access-token` (empty body, "
        "`Authorization: Bearer` key) on the grant whose access token is fresh, against the same "
        "server. The database's own statistics, read once the workers have stopped, give what "
        "the portal executed and wrote.",
        "- (b) 200 POSTs at once (httpx2 async, one connection each) on the other grant after its "
        "access token was expired, the sandbox adding 200 ms to every refresh; refreshes counted "
        "in the sandbox's request record.",
        "- (c) RSS of each worker sampled every 100 ms during (a) and (b).",
        "",
    ]


def _busy_machine(runs: list["ClassRun"]) -> list[str]:
    """A warning when other work took a noticeable share of the cores during (a)."""
    shares = [_others_share(run.a) for run in runs]
    if max(shares) < 0.10:
        return []
    return [
        f"**The machine was not idle:** processes outside the bench used up to "
        f"{100 * max(shares):.0f} % of its CPU during (a), so throughput and latency are worse "
        "than on an idle machine (the CPU per request below is less affected).",
        "",
    ]


def _balance(runs: list["ClassRun"]) -> list[str]:
    """Keep-alive connections stay with the worker that accepted them: say when that skewed."""
    skewed = [run.worker_class for run in runs if _uneven(run.a)]
    if not skewed:
        return []
    return [
        f"**Uneven workers ({', '.join(skewed)}):** wrk's 8 keep-alive connections stay with the "
        "worker that accepted them, and in this run one worker carried most of them (see "
        "\"busiest worker's share\" below): that class's throughput says more about the split "
        "than about the code, so its ratio is marked UNEVEN rather than judged. sync workers "
        "take a new connection per request and stay even.",
        "",
    ]


def _littles_law(runs: list["ClassRun"]) -> list[str]:
    """Why the latency target and the throughput are one question at a fixed concurrency."""
    if all(run.a.hot.p50_ms <= TARGET_HOT_P50_MS for run in runs):
        return []
    needed = CONNECTIONS / (TARGET_HOT_P50_MS / 1000)
    best_ping = max(run.a.ping.rps for run in runs)
    return [
        f"wrk keeps {CONNECTIONS} requests in flight, so the mean latency is {CONNECTIONS} / "
        f"throughput (Little's law): a mean of {TARGET_HOT_P50_MS} ms takes {needed:,.0f} "
        f"requests/s, and ping itself reached {best_ping:,.0f}/s here. The p50 can sit below "
        "the mean only when the distribution is skewed (gthread's is, somewhat).",
        "",
    ]


def _others_share(a: "HotPath") -> float:
    other = a.ping_cpu.seconds["everything else"] + a.hot_cpu.seconds["everything else"]
    return other / ((a.ping.seconds + a.hot.seconds) * len(os.sched_getaffinity(0)))


def _target_table(runs: list["ClassRun"]) -> list[str]:
    header = ["target", *[f"{run.worker_class} workers" for run in runs]]
    per_run = [targets(run) for run in runs]
    rows = []
    for index, (label, _, _) in enumerate(per_run[0]):
        cells = [f"{t[index][1]} **{t[index][2]}**" for t in per_run]
        rows.append([label, *cells])
    return _table(header, rows)


def _hot_section(run: "ClassRun", seconds: int) -> list[str]:
    a = run.a
    ping, hot = a.ping, a.hot
    rows = [
        ["requests/s", f"{ping.rps:,.0f}", f"{hot.rps:,.0f}"],
        ["p50", f"{ping.p50_ms:.2f} ms", f"{hot.p50_ms:.2f} ms"],
        ["p90", f"{ping.p90_ms:.2f} ms", f"{hot.p90_ms:.2f} ms"],
        ["p99", f"{ping.p99_ms:.2f} ms", f"{hot.p99_ms:.2f} ms"],
        ["max", f"{ping.max_ms:.2f} ms", f"{hot.max_ms:.2f} ms"],
        ["requests", f"{ping.requests:,}", f"{hot.requests:,}"],
        ["non-2xx/3xx; socket errors", _errors(ping), _errors(hot)],
    ]
    ping_cpu = a.ping_cpu.per_request_us(ping.requests)
    hot_cpu = a.hot_cpu.per_request_us(hot.requests)
    for group in a.hot_cpu.seconds:
        rows.append([f"CPU per request: {group}", _us(ping_cpu[group]), _us(hot_cpu[group])])
    workers = "gunicorn workers"
    rows.append(
        [
            "busiest worker's share of the workers' CPU",
            f"{100 * a.ping_cpu.busiest_share(workers):.0f} %",
            f"{100 * a.hot_cpu.busiest_share(workers):.0f} %",
        ]
    )
    activity = a.activity
    return [
        f"## `{run.worker_class}` workers",
        "",
        f"### (a) the hot path next to ping, {seconds} s each, 8 connections",
        "",
        *_table(["", "GET /api/v1/ping", "POST …/access-token (hot)"], rows),
        "",
        f"Ratio hot/ping: **{a.ratio:.2f}**. For its {a.hot_requests:,} hot-path requests "
        "(check and warm-up included; ping does not touch the database) the portal executed "
        f"{activity.transactions:,} database statements "
        f"(**{activity.transactions / a.hot_requests:.2f} per request**) and wrote "
        f"{activity.rows_written} row(s): {activity.issuances} issuance row(s), "
        f"{activity.audit_events} audit event(s), the rest the once-a-minute `last_used_at` "
        f"touches; {a.refreshes} refresh(es) reached the sandbox. {_contention(a)}",
        "",
    ]


def _contention(a: "HotPath") -> str:
    """What the CPU figures say: the ratio the CPU cost allows, and how busy others were."""
    ours = ("gunicorn workers", "PostgreSQL backends", "load generator")
    ping = sum(a.ping_cpu.per_request_us(a.ping.requests)[name] for name in ours)
    hot = sum(a.hot_cpu.per_request_us(a.hot.requests)[name] for name in ours)
    return (
        f"Workers, PostgreSQL and wrk together spent {ping:.0f} µs of CPU per ping and "
        f"{hot:.0f} µs per hot-path request: with the cores saturated, that alone bounds the "
        f"ratio near {ping / hot:.2f}. Processes outside the bench used "
        f"{100 * _others_share(a):.0f} % of the machine's CPU during these two runs."
    )


def _us(value: float) -> str:
    return f"{value:.0f} µs"


def _burst_section(run: "ClassRun") -> list[str]:
    b = run.b
    result = b.result
    rss_rows = []
    for index, (a_rss, b_rss) in enumerate(
        zip(_peaks(run.a.rss_peaks), _peaks(b.rss_peaks), strict=False), start=1
    ):
        rss_rows.append([f"worker {index}", a_rss, b_rss])
    return [
        "### (b) 200 callers at once on an expired grant, refresh 200 ms late",
        "",
        *_table(
            ["upstream refreshes", "errors", "statuses", "distinct tokens", "p50", "p99", "max"],
            [
                [
                    str(b.refreshes),
                    str(result.errors),
                    ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items())),
                    str(result.distinct_tokens),
                    f"{result.p50_ms:.0f} ms",
                    f"{result.p99_ms:.0f} ms",
                    f"{result.max_ms:.0f} ms",
                ]
            ],
        ),
        "",
        "### (c) peak RSS per worker",
        "",
        *_table(["", "during (a)", "during (b)"], rss_rows),
        "",
    ]


def _peaks(peaks: dict[int, int]) -> list[str]:
    return [f"{rss / 1024**2:.1f} MiB" for _, rss in sorted(peaks.items())]


def _errors(result: "WrkResult") -> str:
    return f"{result.non_2xx_3xx}; {result.socket_errors}"


def _profile_section(profile: "Profile | str | None") -> list[str]:
    if profile is None:
        return []
    lines = ["## Profile of the hot path", ""]
    if isinstance(profile, str):
        return [*lines, profile, ""]
    lines += [
        f"py-spy on both workers during another wrk run ({profile.requests:,} requests; "
        f"{profile.busy_samples:,} of {profile.samples:,} samples busy with a request, the rest "
        "waiting for one). Where the busy wall time went:",
        "",
        *_table(
            ["where", "share"], [[label, f"{share:.0f} %"] for label, share in profile.categories]
        ),
        "",
        "Functions with most self time (a function blocked in C, such as a socket wait inside "
        "psycopg, counts as its own):",
        "",
        *_table(
            ["function", "share"],
            [[f"`{name}`", f"{share:.1f} %"] for name, share in profile.top_self],
        ),
        "",
    ]
    return lines


def machine_section(machine: dict[str, str], heading: str) -> list[str]:
    """Every report's preamble ends alike: do not edit, then the machine it ran on."""
    return [
        "Generated by the command above; rerun it rather than editing this file.",
        "",
        heading,
        "",
        *_table(["", ""], [[name, value] for name, value in machine.items()]),
        "",
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
        *["| " + " | ".join(row) + " |" for row in rows],
    ]


def _what_if_section(run: "ClassRun", what_if: "HotPath") -> list[str]:
    """The portal as configured next to the same server with prepared statements on."""
    as_is = run.a

    def figures(a: "HotPath") -> list[str]:
        cpu = a.hot_cpu.per_request_us(a.hot.requests)
        return [
            f"{a.ping.rps:,.0f}",
            f"{a.hot.rps:,.0f}",
            f"**{a.ratio:.2f}**",
            f"{a.hot.p50_ms:.2f} ms",
            f"{a.hot.p99_ms:.2f} ms",
            _us(cpu["PostgreSQL backends"]),
            _us(cpu["gunicorn workers"]),
            f"{a.activity.transactions / a.hot_requests:.2f}",
        ]

    header = [
        f"`{run.worker_class}` workers",
        "ping req/s",
        "hot req/s",
        "ratio",
        "hot p50",
        "hot p99",
        "PostgreSQL CPU / hot request",
        "worker CPU / hot request",
        "statements / hot request",
    ]
    return [
        "## What-if: prepared statements",
        "",
        "The hot query joins three tables and checks the issuance table; PostgreSQL plans it on "
        "every request because Django turns psycopg's prepared statements off by default (so "
        "that transaction-mode poolers such as PgBouncer keep working). The run below repeats "
        "(a) with `bench/settings_prepared.py`, the portal's settings plus "
        '`OPTIONS = {"server_side_binding": True, "prepare_threshold": 5}`: a settings '
        "override for this measurement only, not the portal's configuration.",
        "",
        *_table(header, [["as configured", *figures(as_is)], ["prepared", *figures(what_if)]]),
        "",
    ]
