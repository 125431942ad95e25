"""Request ids in logs, audit rows and jobs; JSON log lines. (/metrics: test_metrics.py.)"""

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
from django.urls import reverse

from accounts import outbox
from accounts.models import AuditEvent
from portal.log_filters import RedactSecretsFilter
from portal.observe.json_logs import JsonFormatter, RequestIdFilter
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


def _access_atoms(settings, *, peer: str, forwarded: str) -> dict:
    """What gunicorn's access line is made of, for a request from ``peer`` with
    ``X-Forwarded-For: forwarded``, through the portal's access logger."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from portal.observe.access_log import AccessLogger

    settings.TRUSTED_PROXIES = ["10.0.0.5"]
    environ = {
        "REMOTE_ADDR": peer,
        "HTTP_X_FORWARDED_FOR": forwarded,
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/healthz",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    answer = SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "abc123")], sent=2)
    atoms: dict = AccessLogger(Config()).atoms(
        answer, SimpleNamespace(headers=[]), environ, timedelta()
    )
    return atoms


def test_the_access_line_names_the_client_a_trusted_proxy_forwarded(settings):
    assert _access_atoms(settings, peer="10.0.0.5", forwarded="203.0.113.9")["h"] == "203.0.113.9"


def test_a_forwarded_for_from_an_untrusted_peer_is_not_believed_by_the_access_line(settings):
    assert _access_atoms(settings, peer="198.51.100.7", forwarded="203.0.113.9")["h"] == (
        "198.51.100.7"
    )
