"""The JSON control API and the HTML control page."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.sandbox.conftest import EU_ZUID, US_ZUID


def test_post_needs_json(zoho):
    assert zoho.http.post("/sandbox/control/reset").status_code == 400
    assert (
        zoho.http.post("/sandbox/control/reset", "x=1", content_type="text/plain").status_code
        == 400
    )
    assert zoho.control("reset").json() == {"status": "ok"}
    assert (
        zoho.http.post(
            "/sandbox/control/faults", "[1]", content_type="application/json"
        ).status_code
        == 400
    )


def test_methods_are_checked(zoho):
    assert zoho.control("reset", method="get").status_code == 405
    assert zoho.control("users").status_code == 405


def test_users_are_seeded_across_data_centres_with_organizations(zoho):
    users = zoho.control("users", method="get").json()["users"]
    assert {user["dc"] for user in users} >= {"us", "eu", "in", "au", "ca", "cn", "jp"}
    for user in users:
        assert user["zuid"].isdigit() and "@" in user["email"]
        assert 1 <= len(user["organizations"]) <= 2
        assert all(org["id"].isdigit() for org in user["organizations"])
    hostile = [u for u in users if "<img" in u["display_name"]]
    assert hostile and "\u202e" in hostile[0]["display_name"]


def test_seeding_is_idempotent_and_restores_changes(zoho):
    from sandbox.models import DeskOrganization, ZohoAccount
    from sandbox.seed import ensure_seeded, seed

    ensure_seeded()
    seed()
    count = ZohoAccount.objects.count(), DeskOrganization.objects.count()
    ZohoAccount.objects.filter(zuid=EU_ZUID).update(email="changed@example.com")
    DeskOrganization.objects.filter(org_id="70000001").delete()
    ensure_seeded()
    assert (ZohoAccount.objects.count(), DeskOrganization.objects.count()) == count
    assert ZohoAccount.objects.get(zuid=EU_ZUID).email == "agent@example.eu"


def test_reset_clears_grants_records_settings_and_clients(zoho):
    tokens = zoho.connect(EU_ZUID)
    zoho.control("settings", {"access_token_lifetime": 5, "pkce_enforced": False})
    zoho.control(
        "clients", {"client_id": "1000.X", "client_secret": "x", "redirect_uris": ["http://x/"]}
    )
    zoho.control("reset")
    assert zoho.refresh("eu", tokens["refresh_token"]) == {"error": "invalid_code"}
    assert zoho.control("settings", method="get").json()["access_token_lifetime"] == 3600
    clients = zoho.control("clients", method="get").json()["clients"]
    assert [c["client_id"] for c in clients] == [zoho.client_id]
    assert [r["endpoint"] for r in zoho.records()] == ["refresh"]


def test_settings_validation(zoho):
    assert zoho.control("settings", {"access_token_lifetime": 0}).status_code == 400
    assert zoho.control("settings", {"pkce_enforced": "maybe"}).status_code == 400
    assert zoho.control("settings", {"colour": "red"}).status_code == 400
    answer = zoho.control("settings", {"pkce_enforced": False, "access_token_lifetime": 90})
    assert answer.json()["pkce_enforced"] is False and answer.json()["access_token_lifetime"] == 90


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"client_id": "1000.A", "client_secret": "a"},
        {"client_id": "1000.A", "client_secret": "a", "redirect_uris": ["javascript:x"]},
        {
            "client_id": "1000.A",
            "client_secret": "a",
            "redirect_uris": ["http://a/"],
            "dcs": ["xx"],
        },
    ],
)
def test_client_registration_validation(zoho, body):
    assert zoho.control("clients", body).status_code == 400


def test_the_portal_client_cannot_be_redefined_and_shows_no_secret(zoho):
    body = {"client_id": zoho.client_id, "client_secret": "x", "redirect_uris": ["http://x/"]}
    assert zoho.control("clients", body).status_code == 400
    listing = zoho.control("clients", method="get").content.decode()
    assert zoho.secret not in listing
    assert zoho.redirect_uri in listing


def test_request_filters(zoho):
    zoho.connect(EU_ZUID)
    zoho.connect(US_ZUID)
    assert {r["dc"] for r in zoho.records(dc="us")} == {"us"}
    assert [r["zuid"] for r in zoho.records(endpoint="token")] == [EU_ZUID, US_ZUID]
    assert len(zoho.records(zuid=US_ZUID)) == 2
    newest = zoho.records(limit="2")
    assert len(newest) == 2 and newest == zoho.records()[-2:]
    assert zoho.records(after=str(newest[0]["id"])) == newest[1:]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert zoho.records(since=later) == []


def test_control_page_shows_the_state_and_escapes_hostile_text(zoho):
    tokens = zoho.connect("99000001", start="us")
    zoho.fault("status", endpoint="refresh", status=503)
    html = zoho.http.get("/sandbox/").content.decode()
    for text in ("Data centres", "Zoho users", "Grants", "Faults", "Requests received"):
        assert text in html
    assert "http://testserver/sandbox/eu/accounts" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert tokens["refresh_token"] not in html and tokens["access_token"] not in html
    assert tokens["refresh_token"][:9] + "…" + tokens["refresh_token"][-4:] in html
    assert "User 99000001 revokes" in html


def csrf_post(client: Client, data: dict) -> None:
    page = client.get("/sandbox/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/sandbox/", {"csrfmiddlewaretoken": token.group(1), **data})
    assert response.status_code == 302 and response["Location"] == "/sandbox/"


def test_control_page_actions(zoho, db):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/sandbox/", {"action": "reset"}).status_code == 403
    tokens = zoho.connect(EU_ZUID)
    csrf_post(
        strict, {"action": "add_fault", "kind": "status", "endpoint": "refresh", "status": "502"}
    )
    assert zoho.token("eu", grant_type="refresh_token").status_code == 502
    csrf_post(strict, {"action": "clear_faults"})
    csrf_post(strict, {"action": "settings", "access_token_lifetime": "77", "code_lifetime": "120"})
    settings = zoho.control("settings", method="get").json()
    assert settings["access_token_lifetime"] == 77 and settings["pkce_enforced"] is False
    csrf_post(strict, {"action": "revoke_user", "zuid": EU_ZUID, "client_id": zoho.client_id})
    assert zoho.refresh("eu", tokens["refresh_token"]) == {"error": "invalid_code"}
    csrf_post(strict, {"action": "add_fault", "kind": "nonsense"})
    page = strict.get("/sandbox/").content.decode()
    assert "Fault not added" in page
    csrf_post(strict, {"action": "reset"})
    assert zoho.control("settings", method="get").json()["access_token_lifetime"] == 3600
