"""The upkeep sweep's section of bench/RESULTS.md: set-up, figures, and what limited them."""

import os
import shlex
from datetime import datetime
from importlib.metadata import version
from typing import TYPE_CHECKING

from bench.report import machine_section

if TYPE_CHECKING:
    from bench.upkeep_sweep import Options, Sweep

DESK_CALLS_PER_CHECK = 2  # organizations, then myinfo (the access tokens are live)


def render(
    *,
    started_at: datetime,
    options: "Options",
    machine: dict[str, str],
    sweeps: list["Sweep"],
    argv: list[str],
) -> str:
    command = shlex.join(["python", "-m", "bench.upkeep_sweep", *argv[1:]])
    lines = [
        "## Upkeep sweep benchmark",
        "",
        f"- Date: {started_at:%Y-%m-%d %H:%M} UTC",
        "- Command: `make bench` (runs `.venv/bin/python -m bench.token_api` and "
        f"`.venv/bin/python -m bench.upkeep_sweep`); this run: `{command}`",
        "",
        *machine_section(machine | {"procrastinate": version("procrastinate")}, "### Machine"),
        *_setup(options),
        *_figures(sweeps),
        *_cpu(sweeps),
        *_limits(options, sweeps),
    ]
    return "\n".join(lines) + "\n"


def _setup(options: "Options") -> list[str]:
    return [
        "### Set-up",
        "",
        f"- {options.grants:,} grants of one portal user, one Zoho user each, spread evenly over "
        "the sandbox's 9 data centres; made in bulk on both sides (the sandbox's own models in "
        "its database, SHA-256 of each token as it stores them; the portal's grants with the "
        "same tokens encrypted). Access tokens live for 6 hours, so a check takes the token "
        "service's fast path (no refresh) and makes two Desk calls: `organizations`, `myinfo`.",
        f"- The sandbox adds {options.latency * 1000:.0f} ms to every call (fault `latency`, "
        "endpoint `all`); it runs under `manage.py runserver --noreload` (threaded) on its own "
        "port and database.",
        "- Workers: `manage.py procrastinate worker --concurrency "
        f"{options.concurrency}` processes (as `make run` starts one), production-like: `DEBUG` "
        "off, no sandbox app, each data centre pointed at the sandbox's server through "
        "`ZOHO_<DC>_ACCOUNTS_URL` / `ZOHO_<DC>_DESK_URL`; every periodic task off "
        "(empty `UPKEEP_*_SCHEDULE`); the bench defers `concurrency` x workers "
        "`portal.check_due_grants` jobs (each with its own queueing lock), every job sweeping "
        "claimed batches until nothing is due — what overlapping periodic ticks do.",
        f"- Settings: `UPKEEP_BATCH_SIZE` {options.batch}, `UPKEEP_CONCURRENCY_PER_DC` "
        f"{options.per_dc} (so at most {options.per_dc * 9} checks in flight across the 9 data "
        "centres), `ZOHO_HTTP_TIMEOUT` 10, `DEBUG` off; before each pass every grant is made "
        "due (`make_all_due`), the same grants are checked in both passes.",
        "- Time: from deferring the jobs to the last recorded outcome (`grant.checked` / "
        "`grant.check_failed`). Checked twice: grants whose Desk `organizations` the sandbox "
        "served more than once in the pass (its request record), and grants with more than one "
        "outcome in the audit log. CPU: each group's processes sampled every 0.5 s (database "
        "backends come and go with the workers' connections); everything else is the rest of "
        "the machine's busy time, other people's work included.",
        "",
    ]


def _figures(sweeps: list["Sweep"]) -> list[str]:
    header = (
        "| worker processes | jobs | seconds | grants checked | grants/s | checked twice "
        "(sandbox) | checked twice (audit) | healthy | failed | Desk calls | refreshes |"
    )
    lines = ["### Figures", "", header, "|" + " --- |" * 11]
    for s in sweeps:
        lines.append(
            f"| {s.workers} | {s.jobs} | {s.seconds:.1f} | {s.checked:,} | {s.rate:.1f} | "
            f"{s.checked_twice_zoho} | {s.checked_twice_audit} | {s.healthy:,} | {s.failed} | "
            f"{s.desk_calls:,} | {s.refreshes} |"
        )
    lines.append("")
    by_workers = {s.workers: s for s in sweeps}
    if 1 in by_workers and 2 in by_workers and by_workers[1].rate:
        factor = by_workers[2].rate / by_workers[1].rate
        lines += [f"**Scaling factor (2 workers / 1 worker): {factor:.2f}**", ""]
    return lines


def _cpu(sweeps: list["Sweep"]) -> list[str]:
    groups = list(sweeps[0].cpu.seconds)
    lines = [
        "### Where the CPU went (average cores busy during the pass)",
        "",
        "| group | " + " | ".join(f"{s.workers} worker(s)" for s in sweeps) + " |",
        "|" + " --- |" * (len(sweeps) + 1),
    ]
    for group in groups:
        cells = [f"{s.cpu.seconds.get(group, 0.0) / max(s.seconds, 1e-9):.2f}" for s in sweeps]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    total = [sum(s.cpu.seconds.values()) / max(s.seconds, 1e-9) for s in sweeps]
    lines += ["| **all** | " + " | ".join(f"**{t:.2f}**" for t in total) + " |", ""]
    return lines


def _limits(options: "Options", sweeps: list["Sweep"]) -> list[str]:
    """What bounded each pass: the in-flight ceiling the latency sets, or the CPU."""
    lines = ["### What dominates", ""]
    per_check = DESK_CALLS_PER_CHECK * options.latency
    for s in sweeps:
        in_flight = min(s.jobs, options.per_dc * 9)
        ceiling = in_flight / per_check
        wall = max(s.seconds, 1e-9)
        ours = {g: t for g, t in s.cpu.seconds.items() if g != "everything else"}
        busiest = max(ours, key=lambda g: ours[g])
        cores = sum(s.cpu.seconds.values()) / wall
        others = s.cpu.seconds.get("everything else", 0.0) / wall
        per_grant = 1000 * sum(ours.values()) / max(s.checked, 1)
        saturated = cores >= 0.9 * _cores()
        lines.append(
            f"- {s.workers} worker(s): at most {in_flight} checks in flight, each at least "
            f"{per_check * 1000:.0f} ms of added latency, so a ceiling of {ceiling:.0f} grants/s; "
            f"measured {s.rate:.1f} ({s.rate / ceiling:.0%} of it), so by Little's law a check "
            f"took about {in_flight / max(s.rate, 1e-9):.2f} s. The bench's processes spent "
            f"{per_grant:.0f} ms of CPU per grant checked, the busiest being {busiest} "
            f"({ours[busiest] / wall:.2f} cores). The machine's {_cores()} cores were "
            f"{cores:.2f} busy, {others:.2f} of them by other work on the machine"
            + (
                ": the CPU, not the latency, bounded this pass."
                if saturated
                else "; the CPU was not saturated, so waiting (the added latency, round trips "
                "to PostgreSQL and the sandbox, per-data-centre slots) bounded this pass."
            )
        )
    lines.append("")
    return lines


def _cores() -> int:
    return len(os.sched_getaffinity(0))
