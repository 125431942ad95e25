"""DB: the token service under database faults and races (security checklist, section H):
single-flight refresh across threads and processes, revoke racing refresh, a hung Zoho holding
the row lock, and a database connection lost mid-refresh."""

import hashlib
import inspect
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone
from procrastinate.contrib.django import app

from accounts.models import AuditEvent
from portal import crypto, tasks
from portal.crypto import decrypt_token
from portal.grants import tokens
from portal.grants.key_rotation import rotate_grant_tokens
from portal.grants.revocation import revoke_grant
from portal.models import ZohoGrant
from tests.cast import EU
from tests.connecting import refreshes, wait_for
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def test_DB_02_concurrent_threads_share_one_refresh(expired, sandbox):
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


def test_DB_02_concurrent_processes_share_one_refresh(expired, sandbox, settings):
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


def test_DB_03_hung_zoho_releases_the_lock_and_waiters_get_an_answer(expired, sandbox, settings):
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
    # The sandbox records the hung call when its hang ends: wait, so no later test sees it.
    wait_for(lambda: refreshes(sandbox), seconds=15)


def test_DB_04_revoke_racing_a_refresh_ends_revoked_with_no_token(expired, sandbox):
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


def test_DB_01_database_connection_lost_mid_refresh_loses_nothing(expired, sandbox):
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


@pytest.mark.django_db
def test_DB_08_rotation_rewrites_every_grant_and_is_repeatable(settings, make_grant):
    grants = [make_grant(zoho_user_id=str(n)) for n in range(3)]
    new_key = crypto.generate_key()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, *settings.TOKEN_ENCRYPTION_KEYS]
    first = rotate_grant_tokens()
    assert (first.rotated, first.current, first.unreadable) == (3, 0, 0)
    again = rotate_grant_tokens()
    assert (again.rotated, again.current) == (0, 3)
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    for grant in grants:
        grant.refresh_from_db()
        value = crypto.decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk))
        assert value == make_grant.refresh_token


def test_DB_10_jobs_carry_no_tokens_and_a_retried_revocation_calls_zoho_once(connected, sandbox):
    """Periodic tasks take only their tick's timestamp, the others ids or a rendered message
    (never a token, a key or a link: test_mail_outbox.py runs the reset job); running the
    revocation job twice, as a retry after a worker crash does, revokes at Zoho once."""
    not_periodic = {
        "portal.send_mail": ["kind", "to", "subject", "text", "html"],
        "portal.send_password_reset": ["user_id"],
        "portal.send_email_verification": ["user_id"],
        "portal.revoke_for_staff": ["revocation_id", "grant_id"],
        "portal.deliver_webhook": ["delivery_id", "key"],  # the secret is read when it runs
        "portal.convert_migration_customer": ["customer_id"],  # the authtoken stays in its row
        "portal.send_migration_invitation": ["customer_id", "reminder"],  # link made when run
    }
    for name, task in app.tasks.items():
        if name.startswith("portal."):
            parameters = inspect.signature(task.func).parameters
            expected = not_periodic.get(name, ["timestamp"])
            assert [p for p in parameters if p != "context"] == expected, name
    sandbox.add_fault("status", endpoint="revoke", status=503)
    revoke_grant(grant_id=connected.pk, reason="owner")
    sandbox.clear_faults()
    before = len([r for r in sandbox.requests() if r["endpoint"] == "revoke"])
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        for _ in range(2):
            tasks.finish_revocations(int(time.time()))
    revokes = [r for r in sandbox.requests() if r["endpoint"] == "revoke"]
    assert len(revokes) == before + 1
    connected.refresh_from_db()
    assert connected.status == "revoked" and connected.refresh_token_encrypted is None
