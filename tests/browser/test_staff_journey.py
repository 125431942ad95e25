"""Issue 8's "done when", in a real browser: a new staff member finds a grant by its owner's email
among thousands, revokes it with a reason, sees the event in the audit log and exports it.

The grant is connected through the sandbox, so the revocation really goes to Zoho (the sandbox);
the rest of the database is ``seed_demo_data``'s variety. The same journey on 100k grants is run by
hand and measured by ``make bench`` (bench/RESULTS.md); here the data is small enough for CI.
"""

import csv
import io
import re

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.models import AuditEvent, User
from portal.crypto import decrypt_token
from portal.models import ZohoGrant
from tests.cast import PASSWORD
from tests.jobs import run_jobs
from tests.leaks import assert_no_leak
from tests.mail_parts import delivered

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EU = "20000001"
STAFF_EMAIL = "new.staff@example.com"
REASON = "Chargeback fraud report #4471 (customer asked us to cut access)"


@pytest.fixture
def seeded():
    """Thousands of other grants and events (--force: the tests run with DEBUG off)."""
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("seed_demo_data", "--grants", "3000", "--events", "20000", "--force", **quiet)


@pytest.fixture
def new_staff(make_user):
    """Signed up like anyone, then given every staff permission by an administrator."""
    make_user(STAFF_EMAIL)
    call_command("grant_staff_permissions", STAFF_EMAIL, "--all", stdout=io.StringIO())
    return User.objects.get(email=STAFF_EMAIL)


def test_new_staff_member_finds_revokes_audits_and_exports(
    seeded, portal, sandbox, new_staff, page, screenshot, expect_status, tmp_path
):
    assert portal.connect(EU).status_code == 303
    grant = ZohoGrant.objects.get(user__email="alice@example.com")
    assert ZohoGrant.objects.count() == 3001
    refresh, access = grant.refresh_token_encrypted, grant.access_token_encrypted
    assert refresh is not None and access is not None  # connected: both tokens are stored
    secrets = [decrypt_token(blob, context=str(grant.pk)) for blob in (refresh, access)]
    mail.outbox.clear()

    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    page.get_by_role("banner").get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    screenshot(page, "staff-overview")

    # Find the grant by its owner's email.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Grants").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Grants")
    page.get_by_role("textbox", name="Search").fill("alice@example.com")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.staff-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alice@example.com")
    expect(rows.first).to_contain_text("Active")
    screenshot(page, "staff-grants-search")

    # Select it and revoke; the reason is mandatory.
    rows.first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Revoke selected…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke 1 grant?")
    expect(page.get_by_role("main")).to_contain_text("alice@example.com")
    expect_status("/staff/grants/revoke/", 400)  # the form comes back with its error
    page.get_by_label("Reason").fill("   ")
    page.get_by_role("button", name="Revoke 1 grant").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    grant.refresh_from_db()
    assert grant.status == "active" and not delivered()
    screenshot(page, "staff-revoke-needs-reason")
    page.get_by_label("Reason").fill(REASON)
    page.get_by_role("button", name="Revoke 1 grant").click()
    # The request only queued the work: the batch's page waits for the worker.
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoking 1 grant")
    expect(page.get_by_role("status").filter(has_text="of 1 done")).to_contain_text("0 of 1 done")
    assert [r["endpoint"] for r in sandbox.requests()].count("revoke") == 0 and not mail.outbox
    screenshot(page, "staff-revoke-progress")
    run_jobs()
    # The page reloads itself (a meta refresh: the CSP allows no inline script) and is done.
    expect(page.get_by_role("heading", level=1)).to_have_text("Revocation results")
    expect(page.get_by_role("status").filter(has_text="of 1 done")).to_contain_text("1 of 1 done")
    expect(page.locator("table.staff-table tbody tr")).to_contain_text("Revoked")
    screenshot(page, "staff-revoke-results")
    grant.refresh_from_db()
    assert grant.status == "revoked" and grant.refresh_token_encrypted is None
    assert [r["endpoint"] for r in sandbox.requests()].count("revoke") == 1
    assert [message.to for message in delivered()] == [["alice@example.com"]]

    # The grant's page shows the reason; from there, its events in the audit log.
    page.get_by_role("main").get_by_role("link", name=re.compile("Example Support")).click()
    expect(page.locator(".status").first).to_have_text(re.compile("Revoked"))
    expect(page.get_by_role("main")).to_contain_text(REASON)
    page.get_by_role("link", name="These events in the audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    revoked_row = page.locator("table.audit-table tbody tr", has_text="grant.revoked")
    expect(revoked_row).to_have_count(1)
    expect(revoked_row).to_contain_text(STAFF_EMAIL)
    expect(revoked_row).to_contain_text(REASON)

    # The same event by the audit log's own filters: owner and action.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Audit log").click()
    page.get_by_label("Owner").fill("alice@example.com")
    page.get_by_label("Action").select_option("grant.revoked")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(REASON)
    screenshot(page, "staff-audit-filtered")

    # Export what the filters show.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert re.fullmatch(r"audit-\d{8}T\d{6}Z\.csv", download.suggested_filename)
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    text = path.read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == 1
    assert exported[0]["action"] == "grant.revoked" and str(grant.pk) in text
    assert REASON in text and STAFF_EMAIL in text
    assert AuditEvent.objects.filter(action="audit.exported", actor_id=new_staff.pk).count() == 1
    assert_no_leak(secrets, text, page.content())
