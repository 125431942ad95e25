"""MG-01, and the parts of MG-02/MG-03 the import and its conversion jobs enforce: legacy
secrets are encrypted while they wait, wiped after their attempt and found nowhere afterwards;
an upload is bounded before it is read and never half-imported; a row is converted only at its
own data centre, and fails cleanly to be invited instead."""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from procrastinate.contrib.django.models import ProcrastinateJob

from portal import zoho
from portal.crypto import decrypt_token
from portal.migration.conversion import CONVERT_TASK, secret_context
from portal.models import MigrationCampaign, MigrationCustomer, ZohoGrant
from tests.cast import US
from tests.jobs import run_jobs
from tests.leaks import assert_no_leak, every_table_text
from tests.migration_files import REFRESH_TOKEN, csv_of, row
from tests.staff_permissions import give

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/staff/customers/import/"
Step = MigrationCustomer.Step


def legacy(sandbox, dc: str) -> tuple[str, str]:
    found = sandbox.authtoken(dc=dc)
    return str(found["authtoken"]), str(found["org_ids"][0])


def test_MG_01_no_legacy_secret_is_found_anywhere_while_waiting_or_after_the_run(
    sandbox, client, staff, caplog
):
    caplog.set_level(logging.DEBUG)
    us_token, us_org = legacy(sandbox, "us")
    eu_token, eu_org = legacy(sandbox, "eu")
    ca_token, ca_org = legacy(sandbox, "ca")
    working = zoho.convert_authtoken(
        dc=zoho.data_centre("ca"), authtoken=ca_token, org_id=ca_org
    ).refresh_token
    assert working
    secrets = [us_token, eu_token, working, REFRESH_TOKEN]
    data = csv_of(
        row("c-us", "us@example.com", dc="us", org=us_org, authtoken=us_token),
        row("c-eu", "eu@example.com", dc="eu", org=eu_org, authtoken=eu_token),
        row("c-ca", "ca@example.com", dc="ca", refresh_token=working),
        row("c-bad", "bad@example.com", dc="eu", refresh_token=REFRESH_TOKEN),
    )
    give(staff, "run_migrations", "view_all_grants", "manage_users", "view_audit_log")
    client.force_login(staff)
    file = SimpleUploadedFile("customers.csv", data, content_type="text/csv")
    page = client.post(URL, {"campaign": "spring", "file": file}).content.decode()
    # While waiting: only ciphertext, each bound to its own row.
    waiting = list(MigrationCustomer.objects.all())
    assert all(c.secret_encrypted is not None for c in waiting)
    assert {decrypt_token(c.secret_encrypted, context=secret_context(c.pk)) for c in waiting} == (
        set(secrets)
    )
    jobs = ProcrastinateJob.objects.filter(task_name=CONVERT_TASK)
    assert {tuple(sorted(job.args)) for job in jobs} == {("customer_id", "request_id")}
    assert_no_leak(secrets, page, every_table_text())
    sandbox.add_fault("dead_authtoken", zuid=str(sandbox.authtoken(dc="eu")["zuid"]), count=1)
    run_jobs(CONVERT_TASK)
    steps = dict(MigrationCustomer.objects.values_list("user__external_id", "step"))
    assert steps == {
        "c-us": Step.CONVERTED,
        "c-eu": Step.CONVERSION_FAILED,
        "c-ca": Step.CONVERTED,
        "c-bad": Step.VERIFY_FAILED,
    }
    # After: wiped whatever the outcome, and in no table, log line, audit row or page.
    assert not MigrationCustomer.objects.filter(secret_encrypted__isnull=False).exists()
    pages = [client.get(url).content.decode() for url in _staff_pages()]
    assert_no_leak(secrets, page, caplog.text, every_table_text(), *pages)


def _staff_pages() -> list[str]:
    grant = ZohoGrant.objects.order_by("created_at").first()
    assert grant is not None
    return [URL, "/staff/grants/", f"/staff/grants/{grant.pk}/", "/staff/users/", "/staff/audit/"]


def test_MG_02_an_oversized_upload_is_refused_before_it_is_read(client, staff, settings):
    settings.MIGRATION_IMPORT_MAX_BYTES = 1000
    give(staff, "run_migrations")
    client.force_login(staff)
    big = SimpleUploadedFile("big.csv", b"x" * 200_000, content_type="text/csv")
    response = client.post(URL, {"campaign": "spring", "file": big})
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.content.decode()
    assert not MigrationCampaign.objects.exists()


def test_MG_02_a_customer_that_cannot_be_bound_leaves_nothing_half_imported(make_user):
    from tests.migration_files import run_import

    make_user("taken@example.com", external_id="another-customer")
    data = csv_of(
        row("c-1", "one@example.com", dc="us", org="60000002", authtoken="a" * 32),
        row("c-2", "taken@example.com"),
        row("c-3", "three@example.com"),
    )
    report = run_import(data)
    assert [(p.line, p.code) for p in report.problems] == [(3, "email_conflict")]
    assert not MigrationCampaign.objects.exists() and not MigrationCustomer.objects.exists()
    assert not ProcrastinateJob.objects.exists()


def test_MG_03_a_row_is_converted_only_at_its_own_data_centre_and_fails_cleanly(sandbox):
    from tests.migration_files import run_import

    us_token, us_org = legacy(sandbox, "us")  # a US customer's authtoken, filed under EU
    run_import(csv_of(row("c-1", "one@example.com", dc="eu", org=us_org, authtoken=us_token)))
    run_jobs(CONVERT_TASK)
    calls = sandbox.requests()
    assert [(c["dc"], c["endpoint"]) for c in calls if c["endpoint"] == "authtooauth"] == [
        ("eu", "authtooauth")
    ]
    failed = MigrationCustomer.objects.get()
    assert (failed.step, failed.failure_reason) == (Step.CONVERSION_FAILED, "dead_authtoken")
    assert failed.secret_encrypted is None and not ZohoGrant.objects.exists()
    assert sandbox.grants(zuid=US) == []
