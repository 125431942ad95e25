"""The one token service: single-flight refresh across threads and processes, failure classes,
revoke racing refresh, a hung Zoho, and a database connection lost mid-refresh."""

import hashlib
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from accounts.models import AuditEvent
from portal.crypto import decrypt_token
from portal.grants import tokens
from portal.grants.revocation import revoke_grant
from portal.models import ZohoGrant
from tests.cast import EU
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def expired(portal, alice):
    """A real grant (connected through the sandbox) whose access token has expired."""
    assert portal.connect(EU).status_code == 303
    grant = ZohoGrant.objects.get(user=alice)
    ZohoGrant.objects.filter(pk=grant.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    return grant


def refreshes(sandbox):
    return [r for r in sandbox.requests() if r["endpoint"] == "refresh"]


def test_fresh_token_is_served_without_calling_zoho(make_grant):
    grant = make_grant()
    issued = tokens.get_access_token(grant_id=grant.pk)
    assert issued.access_token and not issued.refreshed


def test_concurrent_threads_share_one_refresh(expired, sandbox):
    sandbox.add_fault("latency", endpoint="refresh", seconds=0.5)
    results, errors = race(12 * [lambda: tokens.get_access_token(grant_id=expired.pk)])
    assert errors == []
    assert len({issued.access_token for issued in results}) == 1
    assert len(refreshes(sandbox)) == 1
    assert sum(issued.refreshed for issued in results) == 1
    assert AuditEvent.objects.filter(action="grant.refreshed").count() == 1


PROCESS_SCRIPT = """
import hashlib, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]
settings.SANDBOX_BASE_URL = sys.argv[2]
settings.ZOHO_HTTP_TIMEOUT = 5.0
import django
django.setup()
from portal.grants import tokens
issued = tokens.get_access_token(grant_id=sys.argv[3])
print(hashlib.sha256(issued.access_token.encode()).hexdigest(), issued.refreshed)
"""


def test_concurrent_processes_share_one_refresh(expired, sandbox, settings):
    sandbox.add_fault("latency", endpoint="refresh", seconds=1.0)
    arguments = [connection.settings_dict["NAME"], settings.SANDBOX_BASE_URL, str(expired.pk)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_SCRIPT, *arguments],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=90) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    lines = [out.strip().splitlines()[-1].split() for out, _ in outputs]
    assert len({digest for digest, _ in lines}) == 1
    assert sorted(flag for _, flag in lines) == ["False", "False", "False", "True"]
    assert len(refreshes(sandbox)) == 1
    expired.refresh_from_db()
    stored = decrypt_token(expired.access_token_encrypted, context=str(expired.pk))
    assert hashlib.sha256(stored.encode()).hexdigest() == lines[0][0]


def test_refresh_rejected_by_zoho_needs_reconnect_and_is_audited_once(expired, sandbox):
    sandbox.revoke_user_grants(EU)
    for _ in range(3):
        with pytest.raises(tokens.GrantInactive):
            tokens.get_access_token(grant_id=expired.pk)
    expired.refresh_from_db()
    assert expired.status == "needs_reconnect" and expired.last_error == "invalid_code"
    assert expired.refresh_token_encrypted is not None  # kept: never wiped by a refresh
    assert len(refreshes(sandbox)) == 1
    assert AuditEvent.objects.filter(action="grant.refresh_failed").count() == 1


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        ("status", {"status": 503, "retry_after": 30}),
        ("status", {"status": 500}),
        ("rate_limit", {}),
        ("malformed_json", {}),
        ("html_200", {}),
        ("reset", {}),
    ],
)
def test_transient_failures_keep_the_grant_and_back_off(expired, sandbox, fault, params):
    before = bytes(expired.refresh_token_encrypted)
    sandbox.add_fault(fault, endpoint="refresh", **params)
    for _ in range(3):
        with pytest.raises(tokens.GrantUnavailable) as caught:
            tokens.get_access_token(grant_id=expired.pk)
        assert caught.value.retry_after and caught.value.retry_after > 0
    expired.refresh_from_db()
    assert expired.status == "trouble" and expired.failure_count == 1
    assert bytes(expired.refresh_token_encrypted) == before
    assert len(refreshes(sandbox)) <= 1  # later callers wait for the back-off


def test_a_still_valid_token_is_served_while_zoho_is_down(portal, sandbox, alice):
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    sandbox.add_fault("status", endpoint="refresh", status=503)
    issued = tokens.get_access_token(grant_id=grant.pk, min_valid=timedelta(minutes=59, seconds=59))
    assert issued.access_token and not issued.refreshed


def test_hung_zoho_releases_the_lock_and_waiters_get_an_answer(expired, sandbox, settings):
    settings.ZOHO_HTTP_TIMEOUT = 1.0
    sandbox.add_fault("hang", endpoint="refresh", seconds=8)
    started = timezone.now()
    results, errors = race(4 * [lambda: tokens.get_access_token(grant_id=expired.pk)])
    elapsed = (timezone.now() - started).total_seconds()
    assert results == [] and len(errors) == 4
    assert all(isinstance(error, tokens.GrantUnavailable) for error in errors)
    assert elapsed < 8  # the client deadline, not the hang, decided
    expired.refresh_from_db()
    assert expired.status == "trouble" and expired.last_error == "timeout"


def test_revoke_racing_a_refresh_ends_revoked_with_no_token(expired, sandbox):
    sandbox.add_fault("latency", endpoint="refresh", seconds=1.0)

    def refresh() -> None:
        tokens.get_access_token(grant_id=expired.pk)
        connections.close_all()

    refresher = threading.Thread(target=refresh)
    refresher.start()
    time.sleep(0.4)  # the refresh now holds the row lock and waits on Zoho
    revoke_grant(grant_id=expired.pk, reason="race")
    refresher.join(timeout=30)
    expired.refresh_from_db()
    assert expired.status == "revoked"
    assert expired.refresh_token_encrypted is None and expired.access_token_encrypted is None
    assert not [g for g in sandbox.grants(zuid=EU) if g["active"]]


def test_database_connection_lost_mid_refresh_loses_nothing(expired, sandbox):
    sandbox.add_fault("latency", endpoint="refresh", seconds=1.5, count=1)
    before = ZohoGrant.objects.values().get(pk=expired.pk)
    outcome = {}
    connected = threading.Event()

    def refresh():
        outcome["pid"] = connection.cursor().connection.info.backend_pid
        connected.set()
        try:
            tokens.get_access_token(grant_id=expired.pk)
        except Exception as error:  # noqa: BLE001
            outcome["error"] = error
        finally:
            connections.close_all()

    worker = threading.Thread(target=refresh)
    worker.start()
    assert connected.wait(timeout=5)
    time.sleep(0.5)  # the refresh now holds the row lock and waits on Zoho
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [outcome["pid"]])
    worker.join(timeout=30)
    assert "error" in outcome
    after = ZohoGrant.objects.values().get(pk=expired.pk)
    assert after == before  # rolled back completely
    issued = tokens.get_access_token(grant_id=expired.pk)
    assert issued.refreshed
