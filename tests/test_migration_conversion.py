"""Converting imported rows into grants (portal/migration/conversion.py), over real HTTP against
the sandbox's authtooauth and token endpoints, run as the worker runs the jobs."""

import json
from datetime import timedelta
from typing import cast
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone
from procrastinate.jobs import Job

from accounts.models import AuditEvent
from portal import zoho
from portal.grants import dc_slots
from portal.grants.events import DELIVER_WEBHOOK
from portal.grants.tokens import get_access_token
from portal.migration import conversion
from portal.migration.conversion import CONVERT_TASK, MAX_ATTEMPTS, ConversionDeferred
from portal.models import DataCentreHealth, MigrationCustomer, ZohoGrant
from tests.cast import CA, EU, US
from tests.jobs import run_jobs
from tests.migration_files import REFRESH_TOKEN, csv_of, row, run_import
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True)
Step = MigrationCustomer.Step
NO_JOB = cast(Job, None)  # the strategy decides on the exception alone


def authtoken_row(sandbox, dc: str, external_id: str, *, org: str = "") -> str:
    legacy = sandbox.authtoken(dc=dc)
    return row(
        external_id,
        f"{external_id}@example.com",
        dc=dc,
        org=org or str(legacy["org_ids"][0]),
        authtoken=str(legacy["authtoken"]),
    )


def customer(external_id: str) -> MigrationCustomer:
    return MigrationCustomer.objects.select_related("grant").get(user__external_id=external_id)


def working_refresh_token(sandbox) -> str:
    """A refresh token the sandbox's CA user granted the portal's client (as a vendor's table
    would hold it)."""
    legacy = sandbox.authtoken(dc="ca")
    tokens = zoho.convert_authtoken(
        dc=zoho.data_centre("ca"),
        authtoken=str(legacy["authtoken"]),
        org_id=str(legacy["org_ids"][0]),
    )
    assert tokens.refresh_token
    return tokens.refresh_token


def test_authtokens_in_us_and_eu_become_grants_that_work(sandbox):
    run_import(csv_of(authtoken_row(sandbox, "us", "c-us"), authtoken_row(sandbox, "eu", "c-eu")))
    run_jobs(CONVERT_TASK)
    for external_id, dc, zuid in (("c-us", "us", US), ("c-eu", "eu", EU)):
        done = customer(external_id)
        assert (done.step, done.secret_encrypted, done.attempts) == (Step.CONVERTED, None, 1)
        grant = done.grant
        assert grant is not None and grant.user_id == done.user_id
        assert (grant.status, grant.data_centre, grant.zoho_user_id) == ("active", dc, zuid)
        assert grant.organizations  # identity and organizations as a connect gets them
        token = get_access_token(grant_id=grant.pk).access_token
        assert zoho.organizations(dc=zoho.data_centre(dc), access_token=token)
        actions = set(AuditEvent.objects.filter(grant_id=grant.pk).values_list("action", flat=True))
        assert {"grant.connected", "grant.migrated"} <= actions
    assert sorted(c["dc"] for c in sandbox.requests(endpoint="authtooauth")) == ["eu", "us"]


def test_a_dead_authtoken_fails_for_good_and_is_wiped(sandbox):
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1")))
    sandbox.add_fault("dead_authtoken", zuid=US, count=1)
    run_jobs(CONVERT_TASK)
    failed = customer("c-1")
    assert (failed.step, failed.failure_reason) == (Step.CONVERSION_FAILED, "dead_authtoken")
    assert failed.secret_encrypted is None and failed.grant is None
    assert not ZohoGrant.objects.exists()
    event = AuditEvent.objects.get(action="migration.conversion_failed")
    assert event.detail["reason"] == "dead_authtoken" and event.outcome == "failure"


def test_an_org_id_that_is_not_the_customers_is_the_wrong_org(sandbox):
    other_org = str(sandbox.authtoken(dc="eu")["org_ids"][0])
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1", org=other_org)))
    run_jobs(CONVERT_TASK)
    failed = customer("c-1")
    assert (failed.step, failed.failure_reason) == (Step.CONVERSION_FAILED, "wrong_org")
    assert failed.secret_encrypted is None and not ZohoGrant.objects.exists()


def test_throttling_keeps_the_secret_and_retries_after_zohos_wait(sandbox):
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1")))
    sandbox.add_fault("rate_limit", endpoint="authtooauth", count=1)
    with pytest.raises(ConversionDeferred) as raised:
        run_jobs(CONVERT_TASK)
    assert raised.value.seconds >= 60  # Zoho's Access Denied asks for a minute
    decision = conversion.RETRY.get_retry_decision(exception=raised.value, job=NO_JOB)
    assert decision is not None and decision.retry_at is not None
    assert decision.retry_at >= timezone.now() + timedelta(seconds=59)
    waiting = customer("c-1")
    assert (waiting.step, waiting.last_error, waiting.attempts) == (Step.CONVERTING, "throttled", 1)
    assert waiting.secret_encrypted is not None  # kept for the retry, encrypted
    assert conversion.convert_customer(customer_id=waiting.pk) == Step.CONVERTED  # the retry
    assert customer("c-1").secret_encrypted is None


def test_a_bug_is_not_retried():
    assert conversion.RETRY.get_retry_decision(exception=ValueError("bug"), job=NO_JOB) is None


def test_an_outage_on_the_last_attempt_gives_up_and_wipes(sandbox):
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1")))
    MigrationCustomer.objects.update(attempts=MAX_ATTEMPTS - 1, step=Step.CONVERTING)
    sandbox.add_fault("status", endpoint="authtooauth", status=503)
    run_jobs(CONVERT_TASK)
    failed = customer("c-1")
    assert (failed.step, failed.failure_reason, failed.last_error) == (
        Step.CONVERSION_FAILED,
        "unavailable",
        "http_503",
    )
    assert failed.secret_encrypted is None


def test_the_portals_client_rejected_fails_the_row_once_and_pauses_the_data_centre(sandbox):
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1"), authtoken_row(sandbox, "eu", "c-2")))
    sandbox.add_fault("error_200", dc="us", endpoint="authtooauth", error="invalid_client")
    run_jobs(CONVERT_TASK)
    failed = customer("c-1")
    assert (failed.step, failed.failure_reason) == (Step.CONVERSION_FAILED, "misconfigured")
    assert failed.secret_encrypted is None and failed.attempts == 1
    assert DataCentreHealth.objects.get(pk="us").rejected_since is not None
    assert customer("c-2").step == Step.CONVERTED  # other data centres go on


def test_a_row_waits_while_its_data_centre_rejects_the_portals_client(sandbox):
    from portal.grants import client_health

    run_import(csv_of(authtoken_row(sandbox, "us", "c-1")))
    with transaction.atomic():
        client_health.note_rejected(data_centre="us", error="invalid_client")
    with pytest.raises(ConversionDeferred):
        run_jobs(CONVERT_TASK)
    assert sandbox.requests(endpoint="authtooauth") == []  # the authtoken was not spent
    assert customer("c-1").secret_encrypted is not None


def test_a_working_refresh_token_is_verified_once_and_stored(sandbox):
    value = working_refresh_token(sandbox)
    run_import(csv_of(row("c-1", "c-1@example.com", dc="ca", refresh_token=value)))
    mark = len(sandbox.requests())
    run_jobs(CONVERT_TASK)
    done = customer("c-1")
    assert (done.step, done.kind, done.secret_encrypted) == (Step.CONVERTED, "refresh_token", None)
    assert done.grant is not None
    assert (done.grant.data_centre, done.grant.zoho_user_id) == ("ca", CA)
    calls = [c["endpoint"] for c in sandbox.requests()[mark:]]
    assert calls.count("refresh") == 1 and "authtooauth" not in calls
    token = get_access_token(grant_id=done.grant.pk).access_token
    assert zoho.organizations(dc=zoho.data_centre("ca"), access_token=token)


def test_a_refresh_token_that_does_not_work_is_reported_not_stored(sandbox):
    run_import(csv_of(row("c-1", "c-1@example.com", dc="eu", refresh_token=REFRESH_TOKEN)))
    run_jobs(CONVERT_TASK)
    failed = customer("c-1")
    assert (failed.step, failed.failure_reason) == (Step.VERIFY_FAILED, "refresh_rejected")
    assert failed.secret_encrypted is None and not ZohoGrant.objects.exists()


def test_at_most_the_configured_conversions_run_at_once_per_data_centre(sandbox, settings):
    settings.MIGRATION_CONCURRENCY_PER_DC = 1
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1")))
    waiting = customer("c-1")
    key = dc_slots.dc_slot_key("us", purpose=conversion.SLOT_PURPOSE)
    with connection.cursor() as cursor:  # another worker holds the only US slot
        cursor.execute("SELECT pg_advisory_lock(%s::int4, 0)", [key])
    try:
        with mock.patch.object(conversion, "SLOT_WAIT", timedelta(seconds=0.3)):
            # another connection than the one holding the slot: a session lock is re-entrant
            results, errors = race([lambda: conversion.convert_customer(customer_id=waiting.pk)])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s::int4, 0)", [key])
    assert results == [] and [type(error) for error in errors] == [ConversionDeferred]
    assert sandbox.requests(endpoint="authtooauth") == []
    assert customer("c-1").attempts == 0  # waiting for a slot is not an attempt
    assert conversion.convert_customer(customer_id=waiting.pk) == Step.CONVERTED


def test_a_converted_row_is_not_converted_again_by_a_repeated_job(sandbox):
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1")))
    run_jobs(CONVERT_TASK)
    done = customer("c-1")
    assert conversion.convert_customer(customer_id=done.pk) == Step.CONVERTED
    assert len(sandbox.requests(endpoint="authtooauth")) == 1
    assert customer("c-1").attempts == 1


def test_a_row_another_worker_is_converting_is_left_to_it(sandbox):
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1")))
    waiting = customer("c-1")
    with connection.cursor() as cursor:  # a stalled job's worker still holds the row
        cursor.execute(
            "SELECT pg_advisory_lock(%s::int4, hashtext(%s))",
            [conversion.ROW_LOCK, str(waiting.pk)],
        )
    try:
        results, errors = race([lambda: conversion.convert_customer(customer_id=waiting.pk)])
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s::int4, hashtext(%s))",
                [conversion.ROW_LOCK, str(waiting.pk)],
            )
    assert (results, errors) == (["taken"], [])
    assert sandbox.requests(endpoint="authtooauth") == []
    assert customer("c-1").secret_encrypted is not None


def test_a_secret_copied_from_another_row_is_not_readable_and_is_wiped(sandbox):
    run_import(csv_of(authtoken_row(sandbox, "us", "c-1"), row("c-2", "c-2@example.com", dc="us")))
    first, second = customer("c-1"), customer("c-2")
    MigrationCustomer.objects.filter(pk=second.pk).update(
        secret_encrypted=first.secret_encrypted, kind="authtoken", step=Step.IMPORTED
    )
    assert conversion.convert_customer(customer_id=second.pk) == Step.CONVERSION_FAILED
    copied = customer("c-2")
    assert (copied.failure_reason, copied.secret_encrypted) == ("unreadable", None)
    assert sandbox.requests(endpoint="authtooauth") == []


def test_a_converted_customer_is_announced_to_the_backend_as_grant_connected(
    sandbox, webhook, receiver
):
    """The issue: stored "exactly as a connect would", webhook `grant.connected` included,
    carrying the app's own customer id."""
    run_import(csv_of(authtoken_row(sandbox, "eu", "c-hook")))
    run_jobs(CONVERT_TASK)
    grant = customer("c-hook").grant
    assert grant is not None
    run_jobs(DELIVER_WEBHOOK)
    bodies = [json.loads(got.body) for got in receiver.received]
    assert [(b["type"], b["data"]["id"], b["data"]["external_id"]) for b in bodies] == [
        ("grant.connected", str(grant.pk), "c-hook")
    ]
