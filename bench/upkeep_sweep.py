"""``make bench``, second part: a health-check sweep of 10,000 grants by real Procrastinate
worker processes while the sandbox answers every call 100 ms late, once with 1 worker process
and once with 2: grants checked per second, the scaling factor, and that no grant was checked
twice (the sandbox's request record and the audit log). Everything is set up here and stopped
again; the figures go to bench/RESULTS.md. Run as ``python -m bench.upkeep_sweep``.
"""

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psutil

from bench import report, servers
from bench.cpu import CpuUse, sampled
from bench.fixtures import create_bulk_grants
from bench.results import publish
from bench.sweep_report import render
from bench.workers import DATA_CENTRES, QUIET_SCHEDULES, start_worker

SANDBOX_ALIAS = "sandbox"
SWEEP_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Options:
    grants: int
    workers: list[int]
    concurrency: int
    per_dc: int
    batch: int
    latency: float


@dataclass(frozen=True)
class Sweep:
    """One pass over every grant with ``workers`` worker processes."""

    workers: int
    jobs: int
    seconds: float
    checked: int  # distinct grants with a health-check outcome in the pass
    healthy: int
    failed: int
    checked_twice_audit: int  # grants with more than one outcome recorded
    checked_twice_zoho: int  # grants whose Desk organizations the sandbox served more than once
    desk_calls: int
    refreshes: int
    cpu: CpuUse

    @property
    def rate(self) -> float:
        return self.checked / self.seconds if self.seconds else 0.0


def main() -> int:
    options = _options()
    started_at, load_average = datetime.now(UTC), os.getloadavg()
    env = {
        **QUIET_SCHEDULES,
        "UPKEEP_CONCURRENCY_PER_DC": str(options.per_dc),
        "UPKEEP_BATCH_SIZE": str(options.batch),
    }
    with ExitStack() as stack:
        base = servers.start_stack(stack, _say, env_overrides=env, sandbox_alias=SANDBOX_ALIAS)
        base.control.clients()  # the sandbox registers the portal's client on demand
        _say(f"creating {options.grants} grants on both sides (bulk, one Zoho user each)")
        create_bulk_grants(
            options.grants,
            data_centres=DATA_CENTRES,
            sandbox_alias=SANDBOX_ALIAS,
            valid_for=timedelta(hours=6),
        )
        base.control.add_fault("latency", endpoint="all", seconds=options.latency)
        sweeps = [_sweep(base, n, options) for n in options.workers]
        machine = report.describe_machine(load_average)
        machine.pop("wrk", None)
        machine.pop("gunicorn", None)
    markdown = render(
        started_at=started_at, options=options, machine=machine, sweeps=sweeps, argv=sys.argv
    )
    publish("upkeep_sweep", markdown)
    return 0 if all(s.checked_twice_zoho == s.checked_twice_audit == 0 for s in sweeps) else 1


def _options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=10_000, help="grants to check (10000)")
    parser.add_argument(
        "--workers",
        type=lambda value: [int(n) for n in value.split(",")],
        default=[1, 2],
        help="worker processes per pass, comma-separated (default: 1,2)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=6,
        help="jobs each worker runs at once (procrastinate worker --concurrency; default 6, "
        "the size of the thread pool its synchronous tasks run in on this machine)",
    )
    parser.add_argument("--per-dc", type=int, default=4, help="UPKEEP_CONCURRENCY_PER_DC (4)")
    parser.add_argument("--batch", type=int, default=10, help="UPKEEP_BATCH_SIZE (10)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added per call (0.1)")
    args = parser.parse_args()
    if args.grants < 1 or args.concurrency < 1 or args.per_dc < 1 or args.batch < 1:
        parser.error("--grants, --concurrency, --per-dc and --batch must be 1 or more")
    if not args.workers or min(args.workers) < 1:
        parser.error("--workers must list worker counts of 1 or more, e.g. 1,2")
    return Options(
        args.grants, args.workers, args.concurrency, args.per_dc, args.batch, args.latency
    )


def _sweep(base: servers.Stack, workers: int, options: Options) -> Sweep:
    """Make every grant due, start the workers, defer the sweep jobs, wait for them."""
    from django.db import connections
    from django.utils import timezone
    from procrastinate.contrib.django.models import ProcrastinateJob, ProcrastinateWorker

    from portal import tasks
    from portal.upkeep import sweeps

    sweeps.make_all_due()
    marks, launched = _marks(), timezone.now()
    processes = [
        start_worker(base.env, f"worker-{workers}-{n}", concurrency=options.concurrency)
        for n in range(workers)
    ]
    try:
        alive = ProcrastinateWorker.objects.filter(last_heartbeat__gte=launched)
        _wait_for(lambda: alive.count() >= workers, "the workers to start")
        jobs = workers * options.concurrency
        _say(f"{workers} worker process(es), {jobs} sweep jobs over {options.grants} grants")
        started = timezone.now()
        with sampled(_process_groups(base, processes)) as cpu:
            ids = [
                tasks.check_due_grants.configure(queueing_lock=f"bench.sweep.{n}").defer(
                    timestamp=0
                )
                for n in range(jobs)
            ]
            unfinished = ProcrastinateJob.objects.filter(id__in=ids, status__in=["todo", "doing"])
            _wait_for(lambda: not unfinished.exists(), "the sweep", SWEEP_TIMEOUT)
        failed_jobs = ProcrastinateJob.objects.filter(id__in=ids).exclude(status="succeeded")
        if failed_jobs.exists():
            raise RuntimeError("a sweep job failed; see bench/out/worker-*.log")
    finally:
        for process in processes:
            process.stop()
        connections.close_all()
    return _counted(workers, jobs, started, marks, cpu)


def _marks() -> tuple[int, int]:
    """The newest audit event and sandbox request before a pass (later ones are the pass's)."""
    from django.db.models import Max

    from accounts.models import AuditEvent
    from sandbox.models import RecordedRequest

    audit = AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0
    zoho = RecordedRequest.objects.using(SANDBOX_ALIAS).aggregate(last=Max("id"))["last"] or 0
    return audit, zoho


def _counted(
    workers: int, jobs: int, started: datetime, marks: tuple[int, int], cpu: CpuUse
) -> Sweep:
    """The pass's figures from the audit log (portal side) and request record (Zoho side)."""
    from django.db.models import Count, Max

    from accounts.models import AuditEvent
    from sandbox.models import RecordedRequest

    Action = AuditEvent.Action
    outcomes = AuditEvent.objects.filter(
        id__gt=marks[0], action__in=[Action.CHECKED, Action.CHECK_FAILED]
    )
    per_grant = outcomes.values("grant_id").annotate(n=Count("id"))
    finished = outcomes.aggregate(last=Max("created_at"))["last"] or started
    requests = RecordedRequest.objects.using(SANDBOX_ALIAS).filter(id__gt=marks[1])
    desk = requests.filter(endpoint="desk_organizations")
    return Sweep(
        workers=workers,
        jobs=jobs,
        seconds=(finished - started).total_seconds(),
        checked=per_grant.count(),
        healthy=outcomes.filter(action=Action.CHECKED).count(),
        failed=outcomes.filter(action=Action.CHECK_FAILED).count(),
        checked_twice_audit=per_grant.filter(n__gt=1).count(),
        checked_twice_zoho=desk.values("zuid").annotate(n=Count("id")).filter(n__gt=1).count(),
        desk_calls=requests.filter(endpoint__startswith="desk_").count(),
        refreshes=requests.filter(endpoint="refresh").count(),
        cpu=cpu,
    )


def _process_groups(
    base: servers.Stack, processes: list[servers.Service]
) -> dict[str, Callable[[], list[psutil.Process]]]:
    """CPU metered during a pass: the workers, the sandbox's server, each database's backends."""
    postmaster = psutil.Process(base.database.server.get_postmaster_info().pid)

    def backends(name: str) -> list[psutil.Process]:
        found = []
        for process in postmaster.children():
            try:
                if f" {name} " in " ".join(process.cmdline()):
                    found.append(process)
            except psutil.Error:
                continue
        return found

    return {
        "workers": lambda: [psutil.Process(p.process.pid) for p in processes],
        "sandbox": lambda: [psutil.Process(base.sandbox.process.pid)],
        "PostgreSQL (portal)": lambda: backends(servers.DATABASE_NAME),
        "PostgreSQL (sandbox)": lambda: backends(servers.SANDBOX_DATABASE_NAME),
        "bench driver": lambda: [psutil.Process()],
    }


def _wait_for(
    condition: Callable[[], bool], what: str, timeout: timedelta = timedelta(seconds=60)
) -> None:
    deadline = time.monotonic() + timeout.total_seconds()
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on TERM too
    sys.exit(main())
