"""``make bench``: the staff pages on a database of 100k grants and 1M audit events.

A fresh database is migrated and filled with ``seed_demo_data`` (timed), the portal runs under
gunicorn, and a staff member holding every staff permission requests each page N times in a
row over HTTP (httpx2); the audit exports are streamed whole while the workers' memory is
sampled. A page missing from this checkout is reported as not present, so the run can be
repeated as pages arrive. The slowest page's slowest query is explained. Results go to the
``staff_pages`` section of bench/RESULTS.md. Run as ``python -m bench.staff_pages``.
"""

import argparse
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urlencode

import httpx2
import psutil

from bench import report, servers
from bench.cpu import CpuUse, metered
from bench.results import publish
from bench.staff_report import Export, PageRun, Seeding, SlowQuery, render

DATABASE = "portal_bench_staff"
WARM_UP = 2
STAFF_PERMISSIONS = (
    "view_all_grants",
    "revoke_any_grant",
    "manage_service_keys",
    "view_audit_log",
    "manage_users",
)
# Query parameters follow the staff pages' forms (portal/staff/forms.py, audit_forms.py); a page
# that answers with a form error is reported, not timed, so a renamed filter cannot pass unfiltered.
NEXT_PAGE = "{next}"  # stands for the rel="next" link (next page, older events) page 1 hands out
NEXT_LINK = re.compile(r'<a\b[^>]*\bhref="([^"]+)"[^>]*\brel="next"')
FORM_ERROR = 'class="form-errors"'


def pages(sample: dict[str, str]) -> list[tuple[str, str]]:
    """(label, path) of every staff page measured; ``sample`` holds values found in the data."""
    return [
        ("overview", "/staff/overview/"),
        ("upkeep", "/staff/upkeep/"),
        ("grants", "/staff/grants/"),
        ("grants: search owner email", "/staff/grants/?" + urlencode({"q": sample["owner"]})),
        ("grants: search organization", "/staff/grants/?" + urlencode({"q": sample["org"]})),
        ("grants: status + data centre", "/staff/grants/?status=trouble&dc=eu"),
        ("grants: warning", "/staff/grants/?warning=any"),
        (
            "grants: refreshed before",
            "/staff/grants/?" + urlencode({"refreshed_before": sample["since"]}),
        ),
        ("grants: sort -last_refreshed", "/staff/grants/?sort=-last_refreshed"),
        ("grants: page 2 (cursor)", f"/staff/grants/{NEXT_PAGE}"),
        ("grant detail", f"/staff/grants/{sample['grant']}/"),
        ("users", "/staff/users/"),
        ("service keys", "/staff/keys/"),
        ("audit", "/staff/audit/"),
        ("audit: action", "/staff/audit/?action=grant.revoked"),
        ("audit: owner", "/staff/audit/?" + urlencode({"owner": sample["owner"]})),
        (
            "audit: date range",
            "/staff/audit/?"
            + urlencode({"date_from": sample["since"], "date_to": sample["until"]}),
        ),
        ("audit: text in reason", "/staff/audit/?q=subscription"),
        ("audit: page 2 (cursor)", f"/staff/audit/{NEXT_PAGE}"),
    ]


EXPORTS = [("CSV", "/staff/audit/export.csv"), ("JSON lines", "/staff/audit/export.jsonl")]


def main() -> int:
    options = _options()
    started_at, load_average = datetime.now(UTC), os.getloadavg()
    with ExitStack() as stack:
        database = servers.open_database((DATABASE,))
        stack.callback(lambda: _say(f"embedded PostgreSQL {servers.close_database(database)}"))
        port = servers.free_port()
        env = servers.portal_environment(
            database_url=database.url(DATABASE), sandbox_port=port, portal_port=port
        )
        env |= {"SANDBOX_ENABLED": "0", "SECURE_COOKIES": "0"}
        _say(f"migrating {DATABASE}")
        servers.manage(env, "migrate", "--noinput")
        seeding = _seed(env, options.grants, options.events)
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connections

        stack.callback(connections.close_all)
        cookie, sample = _staff_session(), _sample()
        portal = _start_portal(env, port)
        stack.callback(portal.stop)
        measured_from = time.perf_counter()
        with metered(_process_groups(portal, database)) as cpu:
            runs = _measure_pages(portal, cookie, pages(sample), options.requests)
        exports = [_export(portal, cookie, label, path) for label, path in EXPORTS]
        slow = _slowest_query(runs, cookie)
        machine = report.describe_machine(load_average)
    markdown = render(
        started_at=started_at,
        machine=machine,
        seeding=seeding,
        runs=runs,
        exports=exports,
        slow=slow,
        requests=options.requests,
        others_share=_others_share(cpu, time.perf_counter() - measured_from),
    )
    publish("staff_pages", markdown)
    return 0


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    return parser.parse_args()


def _seed(env: dict[str, str], grants: int, events: int) -> Seeding:
    command = ["seed_demo_data", "--grants", str(grants), "--events", str(events), "--force"]
    _say(f"manage.py {' '.join(command)}")
    started = time.perf_counter()
    answer = subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, "manage.py", *command],
        cwd=servers.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    (servers.OUT / "seed.log").write_text(answer.stdout + answer.stderr)
    return Seeding(" ".join(command), seconds, answer.stdout.strip().splitlines())


def _staff_session() -> str:
    """A staff member with every staff permission, signed in; returns the session cookie."""
    from django.conf import settings
    from django.contrib.auth.models import Permission
    from django.test import Client

    from accounts.models import User

    user = User.objects.create_user(
        "bench-staff@example.com", secrets.token_urlsafe(24), is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=STAFF_PERMISSIONS))
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _sample() -> dict[str, str]:
    """Values that exist in the seeded data: an owner's email, an organization, a grant."""
    from django.db.models import Count

    from accounts.models import AuditEvent
    from portal.models import ZohoGrant

    grant = (
        ZohoGrant.objects.filter(status="active")
        .annotate(n=Count("user__zoho_grants"))
        .filter(n__gt=1)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    assert grant is not None, "the seeded data has no owner with two grants"
    newest = AuditEvent.objects.order_by("-created_at").values_list("created_at", flat=True)[0]
    return {
        "owner": grant.user.email,
        "org": grant.organizations[0]["name"],
        "grant": str(grant.pk),
        "since": f"{newest - timedelta(days=7):%Y-%m-%d}",
        "until": f"{newest.date():%Y-%m-%d}",
    }


def _start_portal(env: dict[str, str], port: int) -> servers.Service:
    """gunicorn with two sync workers, and time enough for an export of the whole log."""
    argv = [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(servers.WORKERS), "--timeout", "600", "--log-level", "warning"]
    service = servers.start("portal-staff", argv, env, port)
    service.wait_ready("/api/v1/ping")
    return service


def _process_groups(
    portal: servers.Service, database: servers.Database
) -> dict[str, Callable[[], list[psutil.Process]]]:
    """This run's processes (workers, its database's backends, this driver), so that the CPU
    the rest of the machine took meanwhile can be told apart."""
    postmaster = database.server.get_postmaster_info().pid

    def backends() -> list[psutil.Process]:
        found = []
        for child in psutil.Process(postmaster).children():
            try:
                if f" {DATABASE} " in f" {' '.join(child.cmdline())} ":
                    found.append(child)
            except psutil.Error:
                continue
        return found

    return {
        "gunicorn workers": lambda: psutil.Process(portal.process.pid).children(),
        "PostgreSQL backends": backends,
        "bench driver": lambda: [psutil.Process()],
    }


def _others_share(cpu: CpuUse, seconds: float) -> float:
    """The share of the machine's CPU that processes outside this run used while pages ran."""
    return cpu.seconds["everything else"] / (seconds * len(os.sched_getaffinity(0)))


def _measure_pages(
    portal: servers.Service, cookie: str, targets: list[tuple[str, str]], requests: int
) -> list[PageRun]:
    runs: list[PageRun] = []
    next_links: dict[str, str] = {}
    with httpx2.Client(base_url=portal.base_url, headers={"Cookie": cookie}, timeout=60) as http:
        for label, path in targets:
            if NEXT_PAGE in path:
                if path.split(NEXT_PAGE)[0] not in next_links:
                    runs.append(PageRun(label, path, None, [], "no next-page link on page 1"))
                    continue
                path = next_links[path.split(NEXT_PAGE)[0]]
            first = http.get(path)
            if first.status_code == 404:
                runs.append(PageRun(label, path, 404, [], "not present (404)"))
                continue
            if FORM_ERROR in first.text:
                note = "answered with a form error"
                runs.append(PageRun(label, path, first.status_code, [], note))
                continue
            base = path.split("?")[0]
            link = NEXT_LINK.search(first.text)
            if link and base not in next_links:
                found = unescape(link.group(1))
                next_links[base] = found if found.startswith("/") else base + found
            _say(f"{label}: {path}")
            for _ in range(WARM_UP - 1):
                http.get(path)
            times, status = [], first.status_code
            for _ in range(requests):
                started = time.perf_counter()
                status = http.get(path).status_code
                times.append((time.perf_counter() - started) * 1000)
            runs.append(PageRun(label, path, status, sorted(times), ""))
    return runs


def _export(portal: servers.Service, cookie: str, label: str, path: str) -> Export:
    """Stream one export whole; the workers' RSS is sampled meanwhile (peak minus before)."""
    workers = psutil.Process(portal.process.pid).children()
    before = max(worker.memory_info().rss for worker in workers)
    size = lines = 0
    started = time.perf_counter()
    with servers.RssSampler(portal.process.pid, interval=0.05) as rss:
        with httpx2.Client(headers={"Cookie": cookie}, timeout=600) as http:
            with http.stream("GET", f"{portal.base_url}{path}") as response:
                status = response.status_code
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    if status == 404:
        return Export(label, path, 404, 0, 0, 0.0, 0, before)
    _say(f"export {label}: {lines:,} lines in {seconds:.1f} s")
    peak = max(rss.peaks.values(), default=before)
    return Export(label, path, status, lines, size, seconds, peak, before)


def _slowest_query(runs: list[PageRun], cookie: str) -> SlowQuery | None:
    """The slowest page's slowest query (one request in this process), with its plan."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    measured = [run for run in runs if run.times]
    if not measured:
        return None
    slowest = max(measured, key=lambda run: run.median_ms)
    client = Client()
    name, _, value = cookie.partition("=")
    client.cookies[name] = value
    client.get(slowest.path)  # warm this process's connection and caches first
    with CaptureQueriesContext(connection) as captured:
        client.get(slowest.path)
    # The session lookup names the session key: a credential, never written to the results.
    own = [q for q in captured.captured_queries if "django_session" not in q["sql"]]
    query = max(own, key=lambda q: float(q["time"]))
    if value in query["sql"]:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return SlowQuery(slowest.label, slowest.path, len(captured), query["sql"], plan)


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
