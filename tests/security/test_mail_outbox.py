"""Issue 14 item 7: all mail goes out from Procrastinate jobs after commit; no lock is held
while a mail server answers (DB-03, DB-10).

The mail server here is real SMTP in a thread (``tests/fake_smtp.py``) that accepts and then
hangs until released. The checks run from connections of their own: ``pg_locks`` read by a
fresh psycopg connection, and an audited write on the test's connection while the mail job
waits on SMTP in another thread.
"""

import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.jobs import Job

from accounts import outbox
from accounts.audit import record_event
from accounts.models import AuditEvent, User
from portal.grants import owner_alerts
from portal.models import ZohoGrant
from portal.upkeep import sweeps
from tests.cast import EU
from tests.fake_smtp import WAIT, FakeSMTP
from tests.jobs import queued, run_jobs

pytestmark = pytest.mark.django_db(transaction=True)
Action = AuditEvent.Action


@pytest.fixture
def hung_smtp(settings) -> Iterator[FakeSMTP]:
    with FakeSMTP(hanging=True) as server:
        settings.MAILERS = server.settings()
        yield server


def locks_held_by_others() -> list[tuple[str, str, str | None]]:
    """Every lock any other session of this database holds, read on a connection of its own."""
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    with psycopg.connect(**params, autocommit=True) as other:
        rows = other.execute(
            "SELECT locktype, mode, relation::regclass::text FROM pg_locks"
            " WHERE granted AND pid <> pg_backend_pid() AND pid IN"
            " (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
        ).fetchall()
    return [(locktype, mode, relation) for locktype, mode, relation in rows]


def warn(sandbox, grant: ZohoGrant) -> None:
    """Three failed health checks: the sweep raises the early warning."""
    sandbox.add_fault("status", endpoint="desk_organizations", status=503)
    for _ in range(3):
        sweeps.check_grant(grant_id=grant.pk)
    assert ZohoGrant.objects.get(pk=grant.pk).warning == "repeated_failures"


def condemn(sandbox, grant: ZohoGrant) -> None:
    """Zoho forgot the grant: the health check finds it dead and alerts its owner."""
    sandbox.revoke_user_grants(EU)
    assert sweeps.check_grant(grant_id=grant.pk) == "needs_reconnect"
    assert AuditEvent.objects.filter(grant_id=grant.pk, action=Action.OWNER_ALERTED).exists()


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


@pytest.mark.parametrize("trigger", [warn, condemn], ids=["early_warning", "owner_alert"])
def test_no_lock_is_held_while_the_mail_server_hangs(hung_smtp, sandbox, connected, trigger):
    trigger(sandbox, connected)
    assert hung_smtp.connections == 0  # the sweep decided and queued; it never dialled SMTP
    [job] = queued(outbox.SEND_MAIL)
    assert job.queue_name == "mail"

    worker, errors = in_thread(lambda: run_jobs(outbox.SEND_MAIL))
    try:
        assert hung_smtp.connected.wait(WAIT)  # the job now waits for the server's greeting
        assert locks_held_by_others() == []  # no advisory lock, no row or table lock
        with transaction.atomic():  # an audited write goes through at once
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            record_event(action=Action.CHECKED, grant=connected, detail={})
        assert hung_smtp.messages == [] and worker.is_alive()  # still inside SMTP
    finally:
        hung_smtp.release()
        worker.join(WAIT)
    assert errors == []
    [message] = hung_smtp.messages
    assert message["To"] == "alice@example.com"
    assert queued(outbox.SEND_MAIL) == []


class Boom(Exception):
    pass


def test_a_rolled_back_alert_leaves_no_mail_job_and_a_committed_one_exactly_one(make_grant):
    grant = make_grant(status="needs_reconnect", last_error="invalid_code")
    with pytest.raises(Boom), transaction.atomic():
        assert owner_alerts.alert_owner(grant_id=grant.pk) is True
        assert len(queued(outbox.SEND_MAIL)) == 1  # queued in this transaction
        raise Boom
    assert queued() == []
    assert not AuditEvent.objects.filter(action=Action.OWNER_ALERTED).exists()

    assert owner_alerts.alert_owner(grant_id=grant.pk) is True
    [job] = queued()
    assert (job.task_name, job.queue_name) == (outbox.SEND_MAIL, "mail")
    assert job.args["to"] == ["alice@example.com"] and job.args["kind"] == "needs_reconnect"
    assert AuditEvent.objects.filter(action=Action.OWNER_ALERTED).count() == 1


def test_the_reset_job_holds_only_the_user_id_and_its_mail_a_working_link(client, alice, settings):
    with FakeSMTP(hanging=False) as smtp:
        settings.MAILERS = smtp.settings()
        response = client.post(reverse("accounts:password_reset"), {"email": "alice@example.com"})
        assert response.status_code == 302
        assert smtp.connections == 0  # the request only queued the job
        [job] = queued()
        assert (job.task_name, job.queue_name) == (outbox.SEND_PASSWORD_RESET, "mail")
        assert job.args == {"user_id": alice.pk, "request_id": response["X-Request-ID"]}
        run_jobs(outbox.SEND_PASSWORD_RESET)
        assert smtp.received.wait(WAIT)
    [message] = smtp.messages
    assert message["To"] == "alice@example.com"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    found = re.search(r"http://127\.0\.0\.1:8000(/accounts/password/reset/(\S+)/(\S+)/)", body)
    assert found
    path, uid, token = found.groups()
    stored = json.dumps(job.args)
    assert uid not in stored and token not in stored and "reset" not in stored

    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    new = "brand-new-passphrase-9"
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    assert User.objects.get(pk=alice.pk).check_password(new)


def test_a_failed_delivery_is_retried_for_hours_and_a_bug_is_not():
    for name in (outbox.SEND_MAIL, outbox.SEND_PASSWORD_RESET):
        task = app.tasks[name]
        assert (task.queue, task.retry_strategy) == ("mail", outbox.RETRY)
    waits = []
    for attempts in range(100):
        job = Job(
            id=1, queue="mail", lock=None, queueing_lock=None, task_name="t", attempts=attempts
        )
        decision = outbox.RETRY.get_retry_decision(exception=TimeoutError(), job=job)
        if decision is None:
            break
        assert decision.retry_at is not None
        waits.append(decision.retry_at - timezone.now())
    assert waits[0] < timedelta(minutes=2) and max(waits) < timedelta(hours=10)
    assert timedelta(hours=12) < sum(waits, timedelta()) < timedelta(hours=24)
    first = Job(id=1, queue="mail", lock=None, queueing_lock=None, task_name="t", attempts=0)
    assert outbox.RETRY.get_retry_decision(exception=TimeoutError(), job=first) is not None
    assert outbox.RETRY.get_retry_decision(exception=ValueError(), job=first) is None
