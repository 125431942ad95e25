"""/metrics: who may read it, what it counts (per route, across processes), that it holds no
secret, and that the staff upkeep page shows the same figures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from accounts import outbox
from accounts.audit import record_event
from accounts.models import AuditEvent
from portal.checks import check_metrics_token
from tests.api_calls import post_token
from tests.cast import GRANT_ACCESS_TOKEN, GRANT_REFRESH_TOKEN
from tests.jobs import queued

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "m" * 40


def scrape(client, token: str = METRICS_TOKEN) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return str(response.content.decode())


def figure(body: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in body.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0


def test_metrics_refuses_without_credentials(client, alice, staff, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "n" * 40})
    assert wrong.status_code == 401 and b"deskconnect" not in wrong.content
    client.force_login(alice)
    assert client.get("/metrics").status_code == 401  # a customer
    client.force_login(staff)
    assert client.get("/metrics").status_code == 401  # staff without view_all_grants
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    assert b"deskconnect_grants" in client.get("/metrics").content


def test_labels_stay_bounded_whatever_a_client_sends(client, settings):
    """Invented methods and unknown paths fold into one label each; paths never appear."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    for n in range(3):
        client.generic(f"BREW{n}", "/api/v1/ping")
        client.get(f"/no-such-page-{n}/")
    body = scrape(client)
    assert "BREW" not in body and "no-such-page" not in body
    assert (
        figure(
            body,
            "deskconnect_http_requests_total",
            route="api/v1/ping",
            method="other",
            status="405",
        )
        >= 3
    )


def test_a_short_metrics_token_opens_nothing(client, settings):
    settings.METRICS_TOKEN = "short"
    assert client.get("/metrics", headers={"Authorization": "Bearer short"}).status_code == 401


def test_metrics_count_api_calls_per_route_and_refreshes_by_outcome_and_data_centre(
    client, settings, expired, service_key, make_grant
):
    settings.METRICS_TOKEN = METRICS_TOKEN
    route = "api/v1/grants/<uuid:grant_id>/access-token"
    calls = {"route": route, "method": "POST", "status": "200"}
    before = scrape(client)
    for _ in range(2):
        assert post_token(client, expired, service_key).status_code == 200  # the first refreshes
    after = scrape(client)
    requests = "deskconnect_http_requests_total"
    assert figure(after, requests, **calls) - figure(before, requests, **calls) == 2
    latency = "deskconnect_http_request_duration_seconds_count"
    assert (
        figure(after, latency, route=route, method="POST")
        - figure(before, latency, route=route, method="POST")
        == 2
    )
    refreshes = "deskconnect_refreshes_last_hour"
    assert figure(after, refreshes, data_centre="eu", outcome="success") == 1
    assert figure(after, "deskconnect_grants", status="active") == 1
    assert figure(after, "deskconnect_jobs_waiting") == len(queued())

    # Nothing secret or personal: no token, key, email, grant id or path with an id in it.
    for secret in (
        GRANT_REFRESH_TOKEN,
        GRANT_ACCESS_TOKEN,
        service_key,
        METRICS_TOKEN,
        expired.user.email,
        str(expired.pk),
        expired.zoho_email,
    ):
        assert secret not in after


def test_failed_jobs_show_on_metrics_and_on_the_upkeep_page(client, settings, staff):
    settings.METRICS_TOKEN = METRICS_TOKEN
    outbox.send_later(kind="test", to=["nobody@example.com"], subject="s", text="t")
    [job] = queued(outbox.SEND_MAIL)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = %s", [job.pk])
    assert figure(scrape(client), "deskconnect_jobs_failed", task=outbox.SEND_MAIL) == 1
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    client.force_login(staff)
    page = client.get("/staff/upkeep/").content.decode()
    assert f"<dt>Failed jobs: <code>{outbox.SEND_MAIL}</code></dt><dd>1</dd>" in page


def test_the_upkeep_page_shows_refreshes_by_data_centre_like_metrics(
    client, settings, staff, make_grant
):
    grant = make_grant()
    record_event(action=AuditEvent.Action.REFRESHED, grant=grant)
    record_event(action=AuditEvent.Action.REFRESH_FAILED, grant=grant, outcome="failure")
    settings.METRICS_TOKEN = METRICS_TOKEN
    body = scrape(client)
    for outcome in ("success", "failure"):
        name = "deskconnect_refreshes_last_hour"
        assert figure(body, name, data_centre="eu", outcome=outcome) == 1
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    client.force_login(staff)
    page = client.get("/staff/upkeep/").content.decode()
    for outcome in ("success", "failure"):
        assert f'<tr data-refreshes="eu-{outcome}"><td>EU</td><td>{outcome}</td><td>1</td>' in page


def test_the_upkeep_page_shows_the_request_counts_metrics_reports(client, settings, staff):
    settings.METRICS_TOKEN = METRICS_TOKEN
    for _ in range(3):
        client.get("/api/v1/ping")
    body = scrape(client)
    # Every method and status of the route: the page shows one row per route.
    counted = sum(
        float(line.rpartition(" ")[2])
        for line in body.splitlines()
        if line.startswith("deskconnect_http_requests_total{") and 'route="api/v1/ping"' in line
    )
    assert counted >= 3
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    client.force_login(staff)
    page = client.get("/staff/upkeep/").content.decode()
    assert (
        f'<tr data-route="api/v1/ping"><td><code>api/v1/ping</code></td><td>{int(counted)}</td>'
        in page
    )


MULTIPROCESS_SCRIPT = """
import sys
import django
django.setup()
from prometheus_client import generate_latest
from portal.observe import metrics
for _ in range(int(sys.argv[1])):
    metrics.observe_request(route="api/v1/ping", method="GET", status=200, seconds=0.002)
if sys.argv[2] == "render":
    sys.stdout.write(generate_latest(metrics._request_registry()).decode())
"""


def test_request_counts_add_up_across_worker_processes(tmp_path):
    """Under gunicorn (PROMETHEUS_MULTIPROC_DIR set) whichever process answers the scrape
    reports every process's requests, those of processes already gone included."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }

    def run(count: int, mode: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_SCRIPT, str(count), mode],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run(3, "count")
    run(4, "count")
    body = run(1, "render")
    labels = {"route": "api/v1/ping", "method": "GET", "status": "200"}
    assert figure(body, "deskconnect_http_requests_total", **labels) == 8
    latency = "deskconnect_http_request_duration_seconds_count"
    assert figure(body, latency, route="api/v1/ping", method="GET") == 8


def test_a_short_metrics_token_is_reported_at_start_up(settings):
    settings.METRICS_TOKEN = "short"
    assert [error.id for error in check_metrics_token()] == ["portal.E025"]
    settings.METRICS_TOKEN = METRICS_TOKEN
    assert check_metrics_token() == []
