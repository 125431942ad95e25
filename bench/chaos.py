"""``make chaos``: the portal's reliability under a database outage and killed processes.

(1) The token API under gunicorn, 64 connections for 60 s, on grants whose access tokens fall
due one after another during the run, while the PostgreSQL server the portal talks to is
stopped for 10 s in the middle (a real ``pg_ctl stop``/``start`` of an embedded server of its
own under .var/chaos-pgdata; the sandbox's database stays on the shared one). (2) A
Procrastinate worker SIGKILLed mid-refresh and mid-revocation, a gunicorn worker SIGKILLed
mid-callback (bench/chaos_kills.py), each followed by recovery and a consistency check.
Figures go to bench/RESULTS.md. Run as ``python -m bench.chaos`` from the project root.
"""

import argparse
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import chaos_kills, chaos_report, report, servers
from bench.chaos_load import LoadSummary, drive, duplicate_refreshes, summarize
from bench.fixtures import create_bulk_grants
from bench.results import publish
from bench.workers import QUIET_SCHEDULES

CHAOS_PGDATA = servers.ROOT / ".var" / "chaos-pgdata"
NAMES = ("portal_chaos", "portal_chaos_sandbox")
SANDBOX_ALIAS = "sandbox"
GRANTS = 32
ENVIRONMENT = {
    **QUIET_SCHEDULES,
    "UPKEEP_STALLED_AFTER_SECONDS": "2",  # a dead worker's job is stalled after 2 s
    "UPKEEP_BATCH_SIZE": "1",
    "SECURE_COOKIES": "0",  # the callback run signs in over plain http on loopback
}


@dataclass(frozen=True)
class Options:
    seconds: int
    outage_at: int
    outage: int
    connections: int
    worker_class: str


@dataclass(frozen=True)
class Outage:
    """(1): the load's answers, what the database did, and the refreshes at Zoho."""

    options: Options
    load: LoadSummary
    stopped_at: float  # seconds into the load
    recovered_at: float
    grants_due: int  # grants whose access token fell due during the load
    grants_refreshed: int
    duplicates: int  # beyond one refresh per grant, the in-flight grant aside
    failed_refreshes: int
    still_due: int  # grants left with a token not refreshed after the run
    repeated: list[list[float]]  # per grant refreshed more than once: when (s into the load)
    in_flight: list[float]  # when the grant whose refresh spans the stop was refreshed


def main() -> int:
    options = _options()
    started_at, load_average = datetime.now(UTC), os.getloadavg()
    with ExitStack() as stack:
        base = servers.start_stack(
            stack,
            _say,
            env_overrides=ENVIRONMENT,
            sandbox_alias=SANDBOX_ALIAS,
            names=NAMES,
            portal_pgdata=CHAOS_PGDATA,
        )
        base.control.clients()  # the sandbox registers the portal's client on demand
        _say(f"creating {GRANTS} grants on both sides and a service key")
        grant_ids = create_bulk_grants(
            GRANTS,
            data_centres=["us", "eu"],
            sandbox_alias=SANDBOX_ALIAS,
            valid_for=timedelta(hours=1),
        )
        from portal.api.keys import create_service_key

        _, raw_key = create_service_key(name="chaos")
        outage = _outage_run(base, grant_ids, f"Bearer {raw_key}", options)
        kills = chaos_kills.run_all(base, _say)
        machine = report.describe_machine(load_average)
        machine["PostgreSQL"] += "; the portal's on a server of its own (.var/chaos-pgdata)"
        machine.pop("wrk", None)
        machine["load average at end (1/5/15 min)"] = " / ".join(
            f"{x:.2f}" for x in os.getloadavg()
        )
    publish(
        "chaos",
        chaos_report.render(
            started_at=started_at, machine=machine, outage=outage, kills=kills, argv=sys.argv
        ),
    )
    return 0 if chaos_report.all_pass(outage, kills) else 1


def _options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the load")
    parser.add_argument("--outage-at", type=int, default=25, help="seconds in, stop PostgreSQL")
    parser.add_argument("--outage", type=int, default=10, help="seconds PostgreSQL stays down")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--worker-class", default="gthread", help="gunicorn's (sync, gthread)")
    args = parser.parse_args()
    if args.outage_at + args.outage >= args.seconds:
        parser.error("the outage must end before the load does")
    return Options(args.seconds, args.outage_at, args.outage, args.connections, args.worker_class)


def _outage_run(
    base: servers.Stack, grant_ids: list[str], authorization: str, options: Options
) -> Outage:
    from django.db import connections

    portal = servers.start_portal(base.env, base.portal_port, options.worker_class)
    try:
        urls = [f"{portal.base_url}/api/v1/grants/{gid}/access-token" for gid in grant_ids]
        after_record = _last_refresh_record(base)
        in_flight = _stagger_expiries(grant_ids, options)
        zuid = _zuid(in_flight)
        base.control.add_fault("latency", endpoint="refresh", zuid=zuid, seconds=2, count=1)
        connections.close_all()  # nothing of this process's on the database it stops
        answers: list = []
        load = threading.Thread(
            target=lambda: answers.extend(
                drive(
                    urls,
                    authorization=authorization,
                    connections=options.connections,
                    seconds=options.seconds,
                )
            )
        )
        _say(
            f"{options.connections} connections for {options.seconds} s; PostgreSQL stopped "
            f"at {options.outage_at} s for {options.outage} s"
        )
        began, began_wall = time.perf_counter(), time.time()
        load.start()
        time.sleep(options.outage_at)
        stopped_at = time.perf_counter() - began
        base.database.server.stop()  # pg_ctl stop (fast): every connection is cut
        time.sleep(max(0.0, options.outage - (time.perf_counter() - began - stopped_at)))
        base.database.server.start()
        recovered_at = time.perf_counter() - began
        _say(f"PostgreSQL down from {stopped_at:.1f} s to {recovered_at:.1f} s")
        load.join()
    finally:
        portal.stop()
    refreshes = base.control.requests(endpoint="refresh", after=after_record)
    refreshed, duplicates = duplicate_refreshes(
        str(r["zuid"]) for r in refreshes if r["status"] == 200 and str(r["zuid"]) != zuid
    )
    times = _times(refreshes, began_wall)
    return Outage(
        options=options,
        load=summarize(answers, recovered_at=recovered_at),
        stopped_at=stopped_at,
        recovered_at=recovered_at,
        grants_due=len(grant_ids),
        grants_refreshed=refreshed,
        duplicates=duplicates,
        failed_refreshes=sum(1 for r in refreshes if r["status"] != 200),
        still_due=_still_due(grant_ids),
        repeated=[when for z, when in times.items() if len(when) > 1 and z != zuid],
        in_flight=times.get(zuid, []),
    )


def _times(refreshes: list[dict[str, Any]], began_wall: float) -> dict[str, list[float]]:
    """Per Zoho user (one per grant), when each successful refresh was recorded."""
    times: defaultdict[str, list[float]] = defaultdict(list)
    for record in refreshes:
        if record["status"] == 200:
            at = datetime.fromisoformat(record["at"]).timestamp() - began_wall
            times[str(record["zuid"])].append(round(at, 1))
    return {zuid: sorted(when) for zuid, when in times.items()}


def _zuid(grant_id: str) -> str:
    from portal.models import ZohoGrant

    return str(ZohoGrant.objects.get(pk=grant_id).zoho_user_id)


def _last_refresh_record(base: servers.Stack) -> int:
    newest = base.control.requests(limit=1)
    return int(newest[-1]["id"]) if newest else 0


def _stagger_expiries(grant_ids: list[str], options: Options) -> str:
    """Each grant's access token falls due (enters the refresh margin) at its own moment of
    the run, from 2 s in to 3 s before the end; none was refreshed in the last minute. The
    grant due nearest the stop falls due 1 s before it instead: its refresh, held 2 s by the
    sandbox, is in flight when PostgreSQL stops. Returns that grant."""
    from django.utils import timezone

    from portal.grants.tokens import REFRESH_MARGIN
    from portal.models import ZohoGrant

    now = timezone.now()
    step = (options.seconds - 5) / max(1, len(grant_ids) - 1)
    due = {grant_id: 2 + n * step for n, grant_id in enumerate(grant_ids)}
    in_flight = min(due, key=lambda grant_id: abs(due[grant_id] - options.outage_at))
    due[in_flight] = options.outage_at - 1
    for grant_id, seconds in due.items():
        ZohoGrant.objects.filter(pk=grant_id).update(
            access_token_expires_at=now + REFRESH_MARGIN + timedelta(seconds=seconds),
            last_refreshed_at=now - timedelta(minutes=2),
        )
    return in_flight


def _still_due(grant_ids: list[str]) -> int:
    from django.utils import timezone

    from portal.grants.tokens import REFRESH_MARGIN
    from portal.models import ZohoGrant

    deadline = timezone.now() + REFRESH_MARGIN
    return ZohoGrant.objects.filter(pk__in=grant_ids, access_token_expires_at__lte=deadline).count()


def _say(message: str) -> None:
    print(f"chaos: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on TERM too
    sys.exit(main())
