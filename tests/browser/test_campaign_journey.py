"""Issue 17's done-when in a real browser: staff import six customers (two live authtokens in
different data centres, one dead authtoken, one working refresh token, two with nothing); the
jobs convert two and import one without anyone clicking and invite the other three; one
invited customer connects through the emailed link in a fresh browser; the campaign page
shows the funnel; no legacy secret is found anywhere afterwards (MG-01's search)."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from portal import zoho
from portal.migration import invitations
from portal.migration.conversion import CONVERT_TASK
from portal.models import MigrationCampaign, MigrationCustomer
from tests.browser.conftest import SCREENSHOTS
from tests.cast import CN, EU, PASSWORD
from tests.jobs import run_jobs
from tests.leaks import assert_no_leak, every_table_text
from tests.migration_files import csv_of, row
from tests.staff_permissions import give

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
STAFF_EMAIL = "migrations@example.com"
INVITEE = "nina@customer.example"


def test_staff_import_six_customers_and_watch_three_convert_three_invited_one_connect(
    page, browser, live_server, sandbox, settings, make_user, tmp_path
):
    settings.PORTAL_BASE_URL = live_server.url
    us, eu, cn = (sandbox.authtoken(dc=dc) for dc in ("us", "eu", "cn"))
    ca = sandbox.authtoken(dc="ca")
    refresh_token = zoho.convert_authtoken(
        dc=zoho.data_centre("ca"), authtoken=str(ca["authtoken"]), org_id=str(ca["org_ids"][0])
    ).refresh_token
    assert refresh_token
    secrets = [str(us["authtoken"]), str(eu["authtoken"]), str(cn["authtoken"]), refresh_token]
    file = tmp_path / "customers.csv"
    file.write_bytes(
        csv_of(
            row("acme-us", "us@acme.example", name="Acme US", dc="us",
                org=str(us["org_ids"][0]), authtoken=str(us["authtoken"])),
            row("acme-eu", "eu@acme.example", name="Acme EU", dc="eu",
                org=str(eu["org_ids"][0]), authtoken=str(eu["authtoken"])),
            row("zeta-cn", "cn@zeta.example", name="Zeta", dc="cn",
                org=str(cn["org_ids"][0]), authtoken=str(cn["authtoken"])),
            row("oak-ca", "ca@oak.example", name="Oak", dc="ca", refresh_token=refresh_token),
            row("nina-1", INVITEE, name="Nina", dc="eu", org="70000001"),
            row("omar-1", "omar@customer.example", name="Omar", dc="us"),
        )
    )  # fmt: skip
    sandbox.add_fault("dead_authtoken", zuid=CN, count=1)
    deadline = timezone.localdate() + timedelta(days=30)

    staff = make_user(STAFF_EMAIL, is_staff=True, email_verified_at=timezone.now())
    give(staff, "run_migrations")
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    page.goto("/staff/customers/import/")
    page.get_by_label("Campaign").fill("spring-2027")
    page.get_by_label("Deadline").fill(deadline.isoformat())
    page.get_by_label("CSV file").set_input_files(str(file))
    page.get_by_label("Dry run: only report what would happen").uncheck()
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()

    run_jobs(CONVERT_TASK)  # the worker: nobody clicks anything
    run_jobs(invitations.INVITE_TASK)
    steps = dict(MigrationCustomer.objects.values_list("user__external_id", "step"))
    assert [k for k, v in sorted(steps.items()) if v == "converted"] == [
        "acme-eu",
        "acme-us",
        "oak-ca",
    ]
    invited = sorted(address for message in mail.outbox for address in message.to)
    assert invited == ["cn@zeta.example", INVITEE, "omar@customer.example"]

    [message] = [m for m in mail.outbox if m.to == [INVITEE]]
    link = next(word for word in message.body.split() if "/connect/s/" in word)
    customer = browser.new_context(base_url=live_server.url)  # a fresh browser: nobody signed in
    tab = customer.new_page()
    tab.goto(link)
    expect(tab.get_by_role("heading", level=1)).to_have_text("Connect your Zoho Desk")
    tab.get_by_role("button", name="Continue").click()
    expect(tab).to_have_url(re.compile(r"/connections/$"))
    tab.get_by_role("button", name="Connect Zoho Desk").click()
    expect(tab.get_by_role("heading", level=1)).to_contain_text("would like to access")
    tab.locator(f'input[name="zuid"][value="{EU}"]').check()
    tab.get_by_role("button", name="Accept").click()
    expect(tab.get_by_role("heading", level=1)).not_to_contain_text("would like to access")
    customer.close()
    nina = MigrationCustomer.objects.get(user__email=INVITEE)
    assert nina.connected_at is not None and nina.grant is not None

    campaign = MigrationCampaign.objects.get(name="spring-2027")
    page.goto("/staff/campaigns/")
    page.get_by_role("link", name="spring-2027").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaign spring-2027")
    table = page.locator("#funnel-table")
    for key, count in (("converted", 3), ("invited", 3), ("opened", 1), ("connected", 1)):
        expect(table.locator(f'tr[data-step="{key}"] td').first).to_have_text(str(count))
    SCREENSHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1180})
    page.screenshot(path=SCREENSHOTS / "campaign.png")  # the top of the page: docs/campaign.png

    # MG-01: no legacy secret in any table, page, mail or export afterwards.
    pages = [page.content()]
    pages += [page.request.get(f"/staff/campaigns/{campaign.pk}/customers.csv").text()]
    mails = [str(m.body) for m in mail.outbox]
    assert_no_leak(secrets, *pages, *mails, every_table_text())
    assert urlsplit(link).path.startswith("/connect/s/")
