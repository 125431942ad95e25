"""Issue 16 in a real browser: the app's backend makes a connect link, its customer opens it in
a fresh browser, connects in the sandbox and comes back to the app; the backend then finds the
grant by its own customer id."""

import re
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from playwright.sync_api import expect

from portal.api.keys import create_service_key
from portal.models import ZohoGrant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EU = "20000001"


def test_a_connect_link_signs_in_connects_and_returns_to_the_app(
    page, live_server, sandbox, settings, screenshot, expect_status
):
    settings.PORTAL_BASE_URL = live_server.url
    settings.CONNECT_RETURN_URL_ALLOWLIST = [f"{live_server.url}/"]
    return_url = f"{live_server.url}/?from=app"
    _, raw_key = create_service_key(name="desk app")
    backend = httpx2.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={"Authorization": f"Bearer {raw_key}"},
        timeout=20,
    )
    created = backend.post(
        "/connect-sessions",
        json={
            "external_id": "acme-1138",
            "email": "owner@acme.example",
            "display_name": "Acme Owner",
            "return_url": return_url,
        },
    )
    assert created.status_code == 201, created.text
    link = created.json()

    page.goto(link["url"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect your Zoho Desk")
    screenshot(page, "connect-link")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/connections/$"))
    expect(page.get_by_text("Connect your Zoho Desk account to finish")).to_be_visible()
    expect(page.get_by_text("owner@acme.example")).to_be_visible()
    page.get_by_role("button", name="Connect Zoho Desk").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("would like to access")
    page.locator(f'input[name="zuid"][value="{EU}"]').check()
    page.get_by_role("button", name="Accept").click()

    expect(page).to_have_url(re.compile(r"/\?from=app&outcome=connected&"))
    query = parse_qs(urlsplit(page.url).query)
    grant = ZohoGrant.objects.get(user__external_id="acme-1138")
    assert query == {
        "from": ["app"],
        "outcome": ["connected"],
        "grant_id": [str(grant.pk)],
        "session_id": [link["id"]],
    }

    found = backend.get("/grants", params={"external_id": "acme-1138"}).json()["grants"]
    assert [(row["id"], row["external_id"]) for row in found] == [(str(grant.pk), "acme-1138")]
    assert found[0]["status"] == "active"

    expect_status(urlsplit(link["url"]).path, 410)
    page.goto(link["url"])  # the same link again, in the same browser: it is spent
    expect(page.get_by_text("already used")).to_be_visible()
    backend.close()
