"""CS-01 and MG-03 as a migration's invitations meet them: the emailed link's secret lives in
the mail alone (a digest in the database, ids in the job, nothing in a log line), and a row
whose org id is not the customer's fails cleanly and is invited instead."""

import logging
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from procrastinate.contrib.django.models import ProcrastinateJob

from portal.migration import invitations
from portal.migration.conversion import CONVERT_TASK
from portal.models import ConnectSession, MigrationCustomer, ZohoGrant
from tests.jobs import queued, run_jobs
from tests.leaks import assert_no_leak, every_table_text
from tests.migration_files import csv_of, row, run_import

pytestmark = pytest.mark.django_db(transaction=True)


def test_CS_01_an_invitation_link_is_a_digest_in_the_database_and_in_no_log_line(caplog):
    caplog.set_level(logging.DEBUG)
    assert run_import(csv_of(row("c-1", "dana@customer.example", dc="eu"))).ok
    run_jobs(invitations.INVITE_TASK)
    [message] = mail.outbox
    link = next(word for word in str(message.body).split() if "/connect/s/" in word)
    secret = urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]
    session = ConnectSession.objects.get()
    assert session.secret_digest != secret and len(session.secret_digest) == 64
    jobs = str(list(ProcrastinateJob.objects.values_list("args", flat=True)))
    assert_no_leak([secret], caplog.text, jobs, every_table_text())
    path = urlsplit(link).path
    assert Client().post(path).status_code == 302
    assert Client().post(path).status_code == 410  # used once, then never again


def test_MG_03_a_row_with_another_customers_org_fails_cleanly_and_is_invited(sandbox):
    legacy = sandbox.authtoken(dc="us")
    other_org = str(sandbox.authtoken(dc="eu")["org_ids"][0])
    data = csv_of(
        row("c-1", "dana@customer.example", dc="us", org=other_org, authtoken=legacy["authtoken"])
    )
    assert run_import(data).ok
    assert queued(invitations.INVITE_TASK) == []  # not before the conversion decided
    run_jobs(CONVERT_TASK)
    failed = MigrationCustomer.objects.get()
    assert (failed.failure_reason, failed.secret_encrypted) == ("wrong_org", None)
    assert not ZohoGrant.objects.exists()
    run_jobs(invitations.INVITE_TASK)
    assert [m.to for m in mail.outbox] == [["dana@customer.example"]]
    assert MigrationCustomer.objects.get().invitations_sent == 1
