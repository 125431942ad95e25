"""Observability: request ids in logs, audit rows and jobs; JSON log lines; /metrics."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts import outbox
from accounts.models import AuditEvent
from portal.log_filters import RedactSecretsFilter
from portal.observe.json_logs import JsonFormatter, RequestIdFilter
from tests.api_calls import post_token
from tests.cast import GRANT_ACCESS_TOKEN, GRANT_REFRESH_TOKEN
from tests.fake_smtp import FakeSMTP
from tests.jobs import queued, run_jobs
from tests.staff_permissions import client_for, give

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
TOKEN_SHAPED = "1000." + "ab12" * 8 + "." + "cd34" * 8
METRICS_TOKEN = "m" * 40
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The root logger also writes to a buffer through the console handler's filters and the
    JSON formatter (the same classes settings.LOGGING names)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactSecretsFilter())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


def parsed(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's REMOTE_ADDR


# -- request ids ------------------------------------------------------------------------------


def test_a_trusted_proxys_request_id_is_kept_and_echoed(client, behind_proxy):
    response = client.get("/api/v1/ping", headers={"X-Request-ID": "edge-7f3a:42"})
    assert response["X-Request-ID"] == "edge-7f3a:42"


def test_a_request_id_from_an_untrusted_peer_is_replaced(client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = client.get("/api/v1/ping", headers={"X-Request-ID": "chosen-by-the-client"})
    assert GENERATED.fullmatch(response["X-Request-ID"])


@pytest.mark.parametrize("offered", ["has spaces", "x" * 65, "<script>", "-leading", "a\u00e9b"])
def test_a_malformed_request_id_is_replaced_even_from_a_trusted_proxy(
    client, behind_proxy, offered
):
    response = client.get("/api/v1/ping", headers={"X-Request-ID": offered})
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_every_request_gets_its_own_id(client):
    first, second = (client.get("/api/v1/ping")["X-Request-ID"] for _ in range(2))
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


# -- JSON log lines ---------------------------------------------------------------------------


def test_log_lines_of_a_request_are_json_with_its_id(client, service_key, json_lines):
    missing = "00000000-0000-4000-8000-000000000000"
    response = client.get(f"/api/v1/grants/{missing}", headers={"Authorization": "x"})
    assert response.status_code in (401, 404)
    [line] = [entry for entry in parsed(json_lines) if entry["logger"] == "django.request"]
    assert set(line) >= {"time", "level", "logger", "message", "request_id"}
    assert line["request_id"] == response["X-Request-ID"]
    assert line["level"] == "WARNING" and missing in line["message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_a_token_shaped_value_is_redacted_in_a_json_line(json_lines):
    logging.getLogger("portal.test").warning("refresh with %s failed", TOKEN_SHAPED)
    [line] = parsed(json_lines)
    assert TOKEN_SHAPED not in json_lines.getvalue()
    assert line["message"] == "refresh with [redacted] failed"


def test_log_format_json_makes_every_line_of_the_real_configuration_json():
    """Settings wire LOG_FORMAT=json to the formatter and filters (a fresh process)."""
    script = "\n".join(
        [
            "import django, logging",
            "django.setup()",
            "from accounts import request_id",
            "logging.getLogger('portal.x').info('plain')",
            "with request_id.bound('rid-1'):",
            f"    logging.getLogger('portal.y').warning('token {TOKEN_SHAPED}')",
        ]
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**environment, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and all(set(line) >= {"time", "level", "logger", "message"} for line in lines)
    mine = {line["logger"]: line for line in lines if line["logger"].startswith("portal.")}
    assert mine["portal.x"]["request_id"] == ""
    assert mine["portal.y"]["request_id"] == "rid-1"
    assert TOKEN_SHAPED not in result.stderr and "[redacted]" in mine["portal.y"]["message"]


# -- audit rows and jobs ----------------------------------------------------------------------


def test_an_audit_row_written_during_a_request_keeps_its_id(client, alice, behind_proxy):
    response = client.post(
        reverse("accounts:login"),
        {"username": "alice@example.com", "password": "wrong"},
        headers={"X-Request-ID": "login-try-1"},
    )
    assert response["X-Request-ID"] == "login-try-1"
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_LOGIN_FAILED)
    assert event.request_id == "login-try-1"


def test_a_job_a_request_queues_carries_its_id_into_the_workers_log_lines(
    client, alice, settings, json_lines
):
    with FakeSMTP(hanging=False) as smtp:
        settings.MAILERS = smtp.settings()
        response = client.post(reverse("accounts:password_reset"), {"email": "alice@example.com"})
        rid = response["X-Request-ID"]
        [job] = queued(outbox.SEND_PASSWORD_RESET)
        assert job.args["request_id"] == rid
        run_jobs(outbox.SEND_PASSWORD_RESET)
    delivered = [e for e in parsed(json_lines) if e["logger"] == "accounts.outbox"]
    assert delivered and all(entry["request_id"] == rid for entry in delivered)


def test_audit_rows_a_request_born_job_writes_carry_the_requests_id(
    connected, make_user, behind_proxy
):
    """A staff bulk revocation: the request records and queues, the job revokes and audits."""
    revoker = make_user("revoker@example.com", is_staff=True)
    give(revoker, "view_all_grants", "revoke_any_grant")
    data = {"grant": [str(connected.pk)], "reason": "offboarding", "confirm": "1"}
    response = client_for(revoker).post(
        "/staff/grants/revoke/", data, headers={"X-Request-ID": "bulk-revoke-9"}
    )
    assert response.status_code == 303 and response["X-Request-ID"] == "bulk-revoke-9"
    run_jobs("portal.revoke_for_staff")
    revoked = AuditEvent.objects.get(grant_id=connected.pk, action=AuditEvent.Action.REVOKED)
    assert revoked.request_id == "bulk-revoke-9"


def test_the_workers_own_lines_about_a_job_carry_the_jobs_request_id():
    """Procrastinate logs "Starting job …" outside the task, with the job in ``extra``."""
    record = logging.LogRecord("procrastinate.worker", logging.INFO, "", 0, "start", None, None)
    record.job = {"task_kwargs": {"user_id": 1, "request_id": "abc123"}}
    RequestIdFilter().filter(record)
    assert record.__dict__["request_id"] == "abc123"
    record.job = {"task_kwargs": {"request_id": "not well formed!"}}
    RequestIdFilter().filter(record)
    assert record.__dict__["request_id"] == ""


# -- /metrics ---------------------------------------------------------------------------------


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
    from django.db import connection

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
    from accounts.audit import record_event

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


def test_an_unknown_log_format_stops_start_up():
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**environment, "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and 'LOG_FORMAT must be "text" or "json"' in result.stderr


def test_a_short_metrics_token_is_reported_at_start_up(settings):
    from portal.checks import check_metrics_token

    settings.METRICS_TOKEN = "short"
    assert [error.id for error in check_metrics_token()] == ["portal.E020"]
    settings.METRICS_TOKEN = METRICS_TOKEN
    assert check_metrics_token() == []
