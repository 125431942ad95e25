"""Issue 16's "done when", from the app's side with only a service key, through the README's
example client (docs/examples/backend.py): a connect link for a new customer, opened in a fresh
browser and connected in the sandbox; the grant found by the app's own customer id; a verified
``grant.connected`` event; Desk's ``organizations`` through the proxy; a revocation through the
API and a verified ``grant.revoked`` event."""

import importlib.util
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.api.keys import create_service_key
from portal.grants import events
from tests.jobs import run_jobs
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EU = "20000001"
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "backend.py"


def _example():
    spec = importlib.util.spec_from_file_location("backend_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _delivered(receiver: Receiver, secret: str, example) -> list[dict]:
    """Run the queued webhook deliveries; every event received, verified."""
    run_jobs(events.DELIVER_WEBHOOK)
    return [example.verify_event(secret, got.body, got.headers) for got in receiver.received]


def test_the_app_onboards_a_customer_calls_desk_and_revokes_with_only_a_service_key(
    page, live_server, sandbox, settings, screenshot
):
    example = _example()
    settings.PORTAL_BASE_URL = live_server.url
    settings.CONNECT_RETURN_URL_ALLOWLIST = [f"{live_server.url}/"]
    _, service_key = create_service_key(name="acme backend")  # the operator's one step
    app = example.DeskConnect(live_server.url, service_key)
    receiver = Receiver()
    try:
        secret = app.subscribe(receiver.url(), ["grant.connected", "grant.revoked"])["secret"]
        link = app.connect_link("acme-7", "it@acme.example", "Acme IT", f"{live_server.url}/?app=1")

        page.goto(link["url"])  # a fresh browser: nobody is signed in
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Connect Zoho Desk").click()
        page.locator(f'input[name="zuid"][value="{EU}"]').check()
        page.get_by_role("button", name="Accept").click()
        expect(page).to_have_url(re.compile(r"/\?app=1&outcome=connected&grant_id="))
        screenshot(page, "backend-journey-back-at-the-app")

        [grant] = app.grants_of("acme-7")
        assert grant["status"] == "active" and grant["external_id"] == "acme-7"
        [connected] = _delivered(receiver, secret, example)
        assert connected["type"] == "grant.connected"
        assert connected["data"]["id"] == grant["id"]
        assert connected["data"]["external_id"] == "acme-7"
        assert example.handle(connected).startswith("customer acme-7: Desk ready")

        organizations = app.desk(grant["id"], "GET", "organizations")
        assert organizations.status_code == 200
        assert [str(org["id"]) for org in organizations.json()["data"]] == [
            str(org["id"]) for org in grant["organizations"]
        ]
        assert "authorization" not in {name.lower() for name in organizations.headers}

        assert app.revoke(grant["id"])["grant_status"] == "revoked"
        revoked = _delivered(receiver, secret, example)[-1]
        assert revoked["type"] == "grant.revoked" and revoked["data"]["id"] == grant["id"]
        assert revoked["data"]["status"] == "revoked"
        ids = [got.headers["webhook-id"] for got in receiver.received]
        assert len(ids) == 2 and ids[0] != ids[1]  # two events, each delivered once
        refused = app.desk(grant["id"], "GET", "organizations")
        assert refused.status_code == 409 and refused.json()["code"] == "revoked"
    finally:
        receiver.close()
        app.close()
