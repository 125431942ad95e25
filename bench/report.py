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

# Against the bare Django app (bench/bare_app.py) in the same run: ratios, not absolute times,
# so a busy or slow machine moves both sides alike.
TARGET_RATIO = 0.50  # hot-path throughput / the bare app's
TARGET_P50_RATIO = 2.0  # hot-path p50 / the bare app's, at most
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
    uses = (a.bare_cpu, a.ping_cpu, a.hot_cpu)
    return max(use.busiest_share(workers) for use in uses) > 0.65


def _checks(run: "ClassRun") -> list[tuple[str, str, bool | None]]:
    a, b = run.a, run.b
    writes = a.activity
    return [
        (
            f"hot/bare throughput ≥ {TARGET_RATIO:.2f}",
            f"{a.ratio:.2f} ({a.hot.rps:,.0f} / {a.bare.rps:,.0f} req/s)",
            None if _uneven(a) else a.ratio >= TARGET_RATIO,
        ),
        (
            f"hot p50 ≤ {TARGET_P50_RATIO:.0f}× bare p50 at {CONNECTIONS} connections",
            f"{a.p50_ratio:.2f}× ({a.hot.p50_ms:.2f} / {a.bare.p50_ms:.2f} ms)",
            a.p50_ratio <= TARGET_P50_RATIO,
        ),
        (
            "(a) every response 2xx, no socket errors",
            f"{a.bare.non_2xx_3xx + a.ping.non_2xx_3xx + a.hot.non_2xx_3xx} non-2xx/3xx, "
            f"{a.bare.socket_errors + a.ping.socket_errors + a.hot.socket_errors} socket errors",
            a.bare.all_ok and a.ping.all_ok and a.hot.all_ok,
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
        "- Bare app: `bench/bare_app.py`, a Django app with one JSON view (`GET /ping`), "
        "`MIDDLEWARE = []`, no installed apps, no database, served as "
        "`django.core.wsgi:get_wsgi_application()` by gunicorn with the portal's settings below, "
        "in the same run, just before the portal; the targets are ratios to it.",
        f"- Portal: gunicorn on 127.0.0.1 serving `portal.wsgi` (`/api/` on its lean path, "
        f"`API_MIDDLEWARE`), {WORKERS} workers, measured with `sync` workers and "
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
        "- (a) the bare app's `GET /ping` on its own server; then, on the portal's, "
        "`GET /api/v1/ping` and `POST /api/v1/grants/{id}/access-token` (empty body, "
        "`Authorization: Bearer` key) on the grant whose access token is fresh. The database's "
        "own statistics, read once the workers have stopped, give what the portal executed and "
        "wrote.",
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


def _others_share(a: "HotPath") -> float:
    uses = (a.bare_cpu, a.ping_cpu, a.hot_cpu)
    other = sum(use.seconds["everything else"] for use in uses)
    wall = a.bare.seconds + a.ping.seconds + a.hot.seconds
    return other / (wall * len(os.sched_getaffinity(0)))


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
    loads = ((a.bare, a.bare_cpu), (a.ping, a.ping_cpu), (a.hot, a.hot_cpu))
    rows = [
        ["requests/s", *[f"{r.rps:,.0f}" for r, _ in loads]],
        ["p50", *[f"{r.p50_ms:.2f} ms" for r, _ in loads]],
        ["p90", *[f"{r.p90_ms:.2f} ms" for r, _ in loads]],
        ["p99", *[f"{r.p99_ms:.2f} ms" for r, _ in loads]],
        ["max", *[f"{r.max_ms:.2f} ms" for r, _ in loads]],
        ["requests", *[f"{r.requests:,}" for r, _ in loads]],
        ["non-2xx/3xx; socket errors", *[_errors(r) for r, _ in loads]],
    ]
    per_request = [cpu.per_request_us(r.requests) for r, cpu in loads]
    for group in a.hot_cpu.seconds:
        rows.append(
            [f"CPU per request: {group}", *[_us(cpu.get(group, 0.0)) for cpu in per_request]]
        )
    workers = "gunicorn workers"
    rows.append(
        [
            "busiest worker's share of the workers' CPU",
            *[f"{100 * cpu.busiest_share(workers):.0f} %" for _, cpu in loads],
        ]
    )
    activity = a.activity
    return [
        f"## `{run.worker_class}` workers",
        "",
        f"### (a) the hot path next to the bare app and ping, {seconds} s each, 8 connections",
        "",
        *_table(["", "bare app GET /ping", "GET /api/v1/ping", "POST …/access-token (hot)"], rows),
        "",
        f"Ratio hot/bare: **{a.ratio:.2f}** in throughput, **{a.p50_ratio:.2f}×** in p50 "
        f"(hot/ping: {a.ping_ratio:.2f}). For its {a.hot_requests:,} hot-path requests "
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
    bare = sum(a.bare_cpu.per_request_us(a.bare.requests).get(name, 0.0) for name in ours)
    hot = sum(a.hot_cpu.per_request_us(a.hot.requests)[name] for name in ours)
    return (
        f"Workers, PostgreSQL and wrk together spent {bare:.0f} µs of CPU per bare-app request "
        f"and {hot:.0f} µs per hot-path request: with the cores saturated, that alone bounds "
        f"the ratio near {bare / hot:.2f}. Processes outside the bench used "
        f"{100 * _others_share(a):.0f} % of the machine's CPU during these three runs."
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
            f"{a.bare.rps:,.0f}",
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
        "bare req/s",
        "hot req/s",
        "hot/bare",
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
