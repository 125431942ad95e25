"""Issue 5 in a real browser: connect, test, revoke; decline; revoked in Zoho, then reconnect."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, expect

from portal.models import ZohoGrant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "amber-lantern-orbit-7351"
EU = "20000001"


DOCS = Path(__file__).resolve().parents[2] / "docs"


def docs_screenshot(page, name):
    """With UPDATE_DOCS_SCREENSHOTS=1, refresh the small images README shows (docs/)."""
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=DOCS / f"{name}.jpeg", type="jpeg", quality=70, full_page=False)


def sign_up(page, email):
    page.goto("/accounts/signup/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/connections/$"))


def consent(page, zuid, *, accept=True, screenshot=None):
    expect(page.get_by_role("heading", level=1)).to_contain_text("would like to access")
    page.locator(f'input[name="zuid"][value="{zuid}"]').check()
    if screenshot:
        screenshot(page, "consent")
        docs_screenshot(page, "consent")
    page.get_by_role("button", name="Accept" if accept else "Deny").click()


def test_connect_test_and_revoke_an_eu_account(page, sandbox, screenshot):
    sign_up(page, "newcomer@example.com")
    expect(page.get_by_text("No Zoho Desk account connected yet")).to_be_visible()
    screenshot(page, "connections-empty")
    page.get_by_role("button", name="Connect Zoho Desk").click()
    expect(page).to_have_url(re.compile(r"/sandbox/us/accounts/oauth/v2/auth\?"))
    consent(page, EU, screenshot=screenshot)

    expect(page).to_have_url(re.compile(r"/connections/[0-9a-f-]{36}/$"))
    expect(page.get_by_text("connected.")).to_be_visible()
    expect(page.locator(".status").first).to_have_text(re.compile("Active"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Example Support")
    screenshot(page, "connection-detail")

    page.get_by_role("link", name="Connections", exact=True).first.click()
    expect(page.get_by_role("link", name="Example Support")).to_be_visible()
    expect(page.get_by_text("EU", exact=True)).to_be_visible()
    screenshot(page, "connections")
    docs_screenshot(page, "connections")

    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Zoho Desk answered: organization Example Support")).to_be_visible()
    expect(page.get_by_text("Émilie du Châtelet").first).to_be_visible()

    page.get_by_role("link", name="Revoke").click()
    expect(page.get_by_text("stops receiving access tokens")).to_be_visible()
    screenshot(page, "revoke-confirm")
    page.get_by_role("button", name="Revoke connection").click()
    expect(page.get_by_text("Revoked. Zoho confirmed")).to_be_visible()
    expect(page.locator(".status").first).to_have_text(re.compile("Revoked"))
    grant = ZohoGrant.objects.get()
    assert grant.status == "revoked" and grant.refresh_token_encrypted is None


def test_declining_on_zoho_says_so_and_stores_nothing(page, sandbox, screenshot):
    sign_up(page, "decliner@example.com")
    page.get_by_role("button", name="Connect Zoho Desk").click()
    consent(page, EU, accept=False)
    expect(page).to_have_url(re.compile(r"/connections/failed/$"))
    expect(page.get_by_text("You declined on Zoho's page")).to_be_visible()
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    screenshot(page, "connect-declined")
    assert not ZohoGrant.objects.exists()


def test_revoked_in_zoho_needs_reconnect_and_reconnect_restores_it(page, sandbox, screenshot):
    sign_up(page, "returner@example.com")
    page.get_by_role("button", name="Connect Zoho Desk").click()
    consent(page, EU)
    expect(page).to_have_url(re.compile(r"/connections/[0-9a-f-]{36}/$"))
    grant_url = page.url
    grant = ZohoGrant.objects.get()

    sandbox.revoke_user_grants(EU)  # the user removed us under Zoho's Connected Apps
    ZohoGrant.objects.filter(pk=grant.pk).update(access_token_expires_at=grant.created_at)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".status").first).to_have_text(re.compile("Needs reconnect"))
    expect(page.get_by_text("revoked in Zoho")).to_be_visible()
    screenshot(page, "needs-reconnect")

    page.get_by_role("button", name="Reconnect").click()
    consent(page, EU)
    expect(page).to_have_url(grant_url)
    expect(page.get_by_text("reconnected.")).to_be_visible()
    expect(page.locator(".status").first).to_have_text(re.compile("Active"))
    assert ZohoGrant.objects.get().pk == grant.pk


def test_hostile_names_from_zoho_run_no_script(page, sandbox):
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    hostile = next(u for u in sandbox.users() if "<img" in str(u))
    sign_up(page, "careful@example.com")
    page.get_by_role("button", name="Connect Zoho Desk").click()
    consent(page, hostile["zuid"])
    expect(page).to_have_url(re.compile(r"/connections/[0-9a-f-]{36}/$"))
    page.goto("/connections/")
    expect(page.get_by_role("heading", name="Connections", level=1)).to_be_visible()
    assert dialogs == []
