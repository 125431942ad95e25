"""A real Procrastinate worker process runs the upkeep, mail, staff revocation and webhook
jobs; killing one mid-task loses nothing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts import outbox
from accounts.models import AuditEvent
from portal import tasks
from portal.models import StaffRevocation, StaffRevocationItem, ZohoGrant
from portal.upkeep.report import upkeep_report
from tests.fake_smtp import WAIT, FakeSMTP
from tests.staff_permissions import client_for, give

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent

WORKER_SCRIPT = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]
settings.SANDBOX_BASE_URL = sys.argv[2]
settings.ZOHO_HTTP_TIMEOUT = 5.0
settings.UPKEEP_STALLED_AFTER_SECONDS = 1.0
import django
django.setup()
from django.core.management import call_command
call_command("procrastinate", "worker", "--one-shot", "--name", sys.argv[3])
"""


def start_worker(settings, name, **environment):
    arguments = [connection.settings_dict["NAME"], settings.SANDBOX_BASE_URL, name]
    return subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, *arguments],
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]


def checked_events(grant):
    return AuditEvent.objects.filter(grant_id=grant.pk, action="grant.checked").count()


def test_worker_process_runs_the_health_check_job(sandbox, connected, settings):
    job_id = tasks.check_due_grants.defer(timestamp=0)
    finish(start_worker(settings, "one"))
    assert ProcrastinateJob.objects.get(pk=job_id).status == "succeeded"
    assert checked_events(connected) == 1
    connected.refresh_from_db()
    assert connected.last_checked_at is not None and connected.next_check_at is not None
    runs = {run.task: run for run in upkeep_report(now=timezone.now()).tasks}
    assert runs["portal.check_due_grants"].last_status == "succeeded"


def test_worker_killed_mid_task_loses_nothing(sandbox, connected, settings):
    sandbox.add_fault("latency", endpoint="desk_organizations", seconds=3.0, count=1)
    job_id = tasks.check_due_grants.defer(timestamp=0)
    worker = start_worker(settings, "doomed")
    deadline = time.monotonic() + 30
    while ProcrastinateJob.objects.get(pk=job_id).status != "doing":
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.1)
    time.sleep(1.0)  # the check now waits on Zoho
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=30)
    connected.refresh_from_db()
    assert connected.status == "active" and checked_events(connected) == 0
    assert ProcrastinateJob.objects.get(pk=job_id).status == "doing"  # stalled
    # The claim's lease ends (simulated here) and the stalled job is run again by a new worker.
    ZohoGrant.objects.filter(pk=connected.pk).update(next_check_at=None)
    time.sleep(1.5)  # no heartbeat from the dead worker for longer than the threshold
    waiting = ProcrastinateJob.objects.filter(task_name="portal.retry_stalled_jobs", status="todo")
    if not waiting.exists():  # the dead worker may have deferred its periodic run already
        tasks.retry_stalled_jobs.defer(timestamp=0)
    finish(start_worker(settings, "rescuer"))
    # Run again, or closed because the next periodic run of the same sweep was already queued.
    assert ProcrastinateJob.objects.get(pk=job_id).status in ("succeeded", "failed")
    assert not ProcrastinateJob.objects.filter(status="doing").exists()
    assert checked_events(connected) == 1


def test_worker_killed_while_mailing_loses_no_mail(settings):
    """The first worker dies inside SMTP (the server hangs); the mail job is run again."""
    with FakeSMTP(hanging=True) as smtp:
        mail_server = {"EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}?timeout=120"}
        job_id = outbox.send_later(
            kind="test", to=["alice@example.com"], subject="Hello", text="Body"
        )
        worker = start_worker(settings, "doomed", **mail_server)
        assert smtp.connected.wait(WAIT)  # the job waits for the server's greeting
        os.kill(worker.pid, signal.SIGKILL)
        worker.communicate(timeout=30)
        assert ProcrastinateJob.objects.get(pk=job_id).status == "doing"  # stalled
        smtp.release()
        time.sleep(1.5)  # no heartbeat from the dead worker for longer than the threshold
        waiting = ProcrastinateJob.objects.filter(
            task_name="portal.retry_stalled_jobs", status="todo"
        )
        if not waiting.exists():  # the dead worker may have deferred its periodic run already
            tasks.retry_stalled_jobs.defer(timestamp=0)
        finish(start_worker(settings, "rescuer", **mail_server))
        assert smtp.received.wait(WAIT)
    assert ProcrastinateJob.objects.get(pk=job_id).status == "succeeded"
    [message] = smtp.messages
    assert (message["To"], message["Subject"]) == ("alice@example.com", "Hello")


def revocation_job(batch):
    jobs = ProcrastinateJob.objects.filter(task_name="portal.revoke_for_staff")
    return jobs.get(args__revocation_id=str(batch.pk))


def start_batch(connected, make_user):
    revoker = make_user("revoker@example.com", is_staff=True)
    give(revoker, "view_all_grants", "revoke_any_grant")
    data = {"grant": str(connected.pk), "reason": "offboarding", "confirm": "1"}
    response = client_for(revoker).post("/staff/grants/revoke/", data)
    assert response.status_code == 303
    return StaffRevocation.objects.get()


def test_worker_process_runs_a_staff_revocation_to_its_end(sandbox, connected, settings, make_user):
    batch = start_batch(connected, make_user)
    finish(start_worker(settings, "one"))
    batch.refresh_from_db()
    connected.refresh_from_db()
    assert batch.finished_at is not None and connected.status == "revoked"
    assert len(sandbox.requests(endpoint="revoke")) == 1
    assert revocation_job(batch).status == "succeeded"


def test_worker_killed_mid_revocation_is_finished_by_the_retry_without_double_steps(
    sandbox, connected, settings, make_user
):
    sandbox.add_fault("latency", endpoint="revoke", seconds=3.0, count=1)
    batch = start_batch(connected, make_user)
    job = revocation_job(batch)
    worker = start_worker(settings, "doomed")
    deadline = time.monotonic() + 30
    while ProcrastinateJob.objects.get(pk=job.pk).status != "doing":
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.1)
    time.sleep(1.0)  # the revocation now waits on Zoho
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=30)
    assert ZohoGrant.objects.get(pk=connected.pk).status == "revoking"
    assert StaffRevocation.objects.get(pk=batch.pk).finished_at is None
    time.sleep(1.5)  # no heartbeat from the dead worker for longer than the threshold
    waiting = ProcrastinateJob.objects.filter(task_name="portal.retry_stalled_jobs", status="todo")
    if not waiting.exists():
        tasks.retry_stalled_jobs.defer(timestamp=0)
    finish(start_worker(settings, "rescuer"))
    assert ProcrastinateJob.objects.get(pk=job.pk).status == "succeeded"
    batch.refresh_from_db()
    connected.refresh_from_db()
    assert batch.finished_at is not None and connected.status == "revoked"
    actions = list(
        AuditEvent.objects.filter(grant_id=connected.pk)
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions.count("grant.revoke_requested") == 1 and actions.count("grant.revoked") == 1
    assert StaffRevocationItem.objects.get().outcome == "revoked"


def test_a_worker_runs_a_request_born_job_under_the_requests_id(settings):
    """The job's request id is no task argument, and the worker's lines about it carry it."""
    import json

    from accounts import request_id

    with FakeSMTP(hanging=False) as smtp:
        with request_id.bound("req-abc-1"):
            job_id = outbox.send_later(
                kind="test", to=["alice@example.com"], subject="Hi", text="B"
            )
        mail_server = {"EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}", "LOG_FORMAT": "json"}
        worker = start_worker(settings, "tracer", **mail_server)
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err[-3000:]
        assert smtp.received.wait(WAIT)
    assert ProcrastinateJob.objects.get(pk=job_id).status == "succeeded"
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    about_the_job = [line for line in lines if line["request_id"] == "req-abc-1"]
    loggers = {line["logger"] for line in about_the_job}
    assert {"accounts.outbox", "procrastinate.worker"} <= loggers, lines


def test_worker_process_delivers_a_webhook_event_after_commit(
    settings, make_grant, receiver, webhook
):
    """The event's job, committed with the change, is run by a real worker that signs and
    posts it to the receiver."""
    from django.db import transaction
    from standardwebhooks import Webhook

    from portal.grants import events

    _, secret = webhook
    with transaction.atomic():
        event = events.emit(event_type=events.EventType.CONNECTED, grant=make_grant())
    assert event is not None
    finish(start_worker(settings, "webhooks"))
    [got] = receiver.received
    assert got.headers["webhook-id"] == event.message_id
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "grant.connected"
    assert ProcrastinateJob.objects.get(task_name=events.DELIVER_WEBHOOK).status == "succeeded"
