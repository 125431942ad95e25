"""The staff pages benchmark's section of bench/RESULTS.md."""

from dataclasses import dataclass
from datetime import datetime
from statistics import median

from bench.load import percentile
from bench.report import machine_section

TARGET_MS = 100.0
TARGET_EXPORT_MB = 150.0
MB = 1024 * 1024


@dataclass(frozen=True)
class Seeding:
    command: str
    seconds: float
    summary: list[str]


@dataclass(frozen=True)
class PageRun:
    label: str
    path: str
    status: int | None
    times: list[float]  # milliseconds, ascending
    note: str

    @property
    def median_ms(self) -> float:
        return median(self.times)

    @property
    def p95_ms(self) -> float:
        return percentile(self.times, 95)


@dataclass(frozen=True)
class Export:
    label: str
    path: str
    status: int
    lines: int
    size: int
    seconds: float
    peak_rss: int  # the busiest worker's peak during the export, bytes
    rss_before: int


@dataclass(frozen=True)
class SlowQuery:
    page: str
    path: str
    queries: int
    sql: str
    plan: str


def render(
    *,
    started_at: datetime,
    machine: dict[str, str],
    seeding: Seeding,
    runs: list[PageRun],
    exports: list[Export],
    slow: SlowQuery | None,
    requests: int,
    others_share: float,
) -> str:
    lines = [
        "## Staff pages benchmark",
        "",
        f"- Date: {started_at:%Y-%m-%d %H:%M} UTC",
        "- Command: `make bench` (runs `.venv/bin/python -m bench.staff_pages`)",
        f"- Data: `manage.py {seeding.command}` on a fresh database (`portal_bench_staff`, "
        f"created, migrated and dropped by the run): **{seeding.seconds:.1f} s** for the "
        "whole command, Django's start-up included.",
        "- Portal: gunicorn, 2 sync workers, `DEBUG` off, on loopback. Client: httpx2, one "
        f"request at a time, signed in as a staff member holding every staff permission; "
        f"{requests} timed requests per page after 2 warm-up requests. Times are measured at "
        "the client (they include gunicorn and the loopback).",
        "",
        *machine_section(machine, "### Machine"),
        "### Seeding",
        "",
        "```",
        *seeding.summary,
        "```",
        "",
        f"### Pages (target: median ≤ {TARGET_MS:.0f} ms)",
        "",
        *_busy_machine(others_share),
        "| page | path | median | p95 | target |",
        "| --- | --- | --- | --- | --- |",
        *[_page_row(run) for run in runs],
        "",
        f"### Audit exports (target: worker peak RSS ≤ {TARGET_EXPORT_MB:.0f} MB)",
        "",
        "| export | path | rows | size | time | worker RSS before → peak | target |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[_export_row(export) for export in exports],
        "",
        *_slow_section(slow),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _busy_machine(share: float) -> list[str]:
    """A warning when other work took a noticeable share of the cores while pages ran."""
    if share < 0.10:
        return [f"Processes outside the bench used {100 * share:.0f} % of the CPU meanwhile.", ""]
    return [
        f"**The machine was not idle:** processes outside the bench used {100 * share:.0f} % of "
        "its CPU while the pages were measured, so these times are worse than on an idle "
        "machine.",
        "",
    ]


def _page_row(run: PageRun) -> str:
    path = f"`{run.path}`"
    if not run.times:
        return f"| {run.label} | {path} | {run.note} | | |"
    if run.status != 200:
        return f"| {run.label} | {path} | HTTP {run.status} | | **MISS** |"
    verdict = "PASS" if run.median_ms <= TARGET_MS else "MISS"
    return (
        f"| {run.label} | {path} | {run.median_ms:.1f} ms | {run.p95_ms:.1f} ms | **{verdict}** |"
    )


def _export_row(export: Export) -> str:
    path = f"`{export.path}`"
    if export.status == 404:
        return f"| {export.label} | {path} | not present (404) | | | | |"
    if export.status != 200:
        return f"| {export.label} | {path} | HTTP {export.status} | | | | **MISS** |"
    verdict = "PASS" if export.peak_rss <= TARGET_EXPORT_MB * MB else "MISS"
    return (
        f"| {export.label} | {path} | {export.lines:,} lines | {export.size / MB:,.1f} MB | "
        f"{export.seconds:.1f} s | {export.rss_before / MB:.0f} → {export.peak_rss / MB:.0f} MB "
        f"| **{verdict}** |"
    )


def _slow_section(slow: SlowQuery | None) -> list[str]:
    if slow is None:
        return []
    return [
        f"### Slowest page: {slow.page}",
        "",
        f"`{slow.path}` ran {slow.queries} queries; the slowest, and its plan "
        "(`EXPLAIN (ANALYZE, BUFFERS)`, run once more after the request):",
        "",
        "```sql",
        slow.sql,
        "```",
        "",
        "```",
        slow.plan,
        "```",
    ]
