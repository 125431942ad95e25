"""Connecting a Zoho Desk account, end to end over real HTTP against the sandbox.

Covers the callback checklist and the OA-*/TS-* cases of the security checklist that apply to
connecting (NO-EGRESS via the sandbox's request record and a decoy listener).
"""

import logging
import threading
import time
from datetime import timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from portal.crypto import decrypt_token
from portal.models import ZohoGrant
from tests.leaks import assert_no_leak
from tests.portal_browser import PortalBrowser
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True)

EU, US, CA, CN = "20000001", "10000001", "50000001", "80000001"


def token_calls(sandbox):
    return [r for r in sandbox.requests() if r["endpoint"] in ("token", "refresh")]


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def secrets_of(grant):
    grant.refresh_from_db()
    return [
        decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk)),
        decrypt_token(grant.access_token_encrypted, context=str(grant.pk)),
    ]


def query_of(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize(
    ("zuid", "region", "dc", "org"),
    [
        (US, "global", "us", "Analytical Engines"),
        (EU, "global", "eu", "Example Support"),
        (CA, "global", "ca", "Pulse Service"),
        (CN, "cn", "cn", "长城客服"),
    ],
)
def test_connect_stores_an_encrypted_grant_in_the_users_data_centre(
    portal, sandbox, alice, zuid, region, dc, org
):
    response = portal.connect(zuid, region=region)
    assert response.status_code == 303
    grant = ZohoGrant.objects.get(user=alice)
    assert response["Location"] == f"/connections/{grant.pk}/"
    assert (grant.data_centre, grant.zoho_user_id, grant.status) == (dc, zuid, "active")
    assert grant.accounts_server == sandbox.accounts_url(dc)
    assert org in [o["name"] for o in grant.organizations]
    calls = [(r["dc"], r["endpoint"]) for r in sandbox.requests() if r["endpoint"] != "auth"]
    assert calls == [(dc, "token"), (dc, "userinfo"), (dc, "desk_organizations")]
    page = portal.client.get(response["Location"]).content.decode()
    assert org in page and dc.upper() in page
    listing = portal.client.get("/connections/").content.decode()
    assert org in listing
    assert AuditEvent.objects.filter(action="grant.connected", grant_id=grant.pk).count() == 1


def test_tokens_are_never_stored_or_shown_in_clear(portal, sandbox, alice, caplog, settings):
    caplog.set_level(logging.DEBUG)
    authorize = portal.start()
    state = query_of(authorize)["state"]
    callback_url = sandbox.consent(authorize, zuid=EU)
    code = query_of(callback_url)["code"]
    response = portal.callback(callback_url)
    grant = ZohoGrant.objects.get(user=alice)
    pages = "".join(
        portal.client.get(url).content.decode() for url in ("/connections/", response["Location"])
    )
    assert_no_leak(
        [*secrets_of(grant), code, state, settings.ZOHO_CLIENT_SECRET],
        pages,
        caplog.text,
        repr(grant),
    )
    assert "code_challenge_method=S256" in authorize and "plain" not in authorize


def test_authorize_request_asks_for_offline_access_with_pkce(portal, settings):
    params = query_of(portal.start())
    assert params["access_type"] == "offline" and params["prompt"] == "consent"
    assert params["scope"] == ",".join(settings.ZOHO_SCOPES)
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert "code_verifier" not in params
    assert params["redirect_uri"] == settings.ZOHO_REDIRECT_URI


def test_callback_answers_with_a_clean_redirect(portal):
    response = portal.connect(EU)
    assert response.status_code == 303
    assert "code=" not in response["Location"] and "state=" not in response["Location"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


def test_pkce_enforced_by_zoho_works(portal, sandbox, alice):
    sandbox.set_pkce_enforced(True)
    assert portal.connect(EU).status_code == 303
    assert ZohoGrant.objects.filter(user=alice).count() == 1


def test_declining_on_zoho_stores_nothing(portal, sandbox, alice):
    response = portal.connect(EU, approve=False)
    assert response["Location"] == "/connections/failed/"
    page = portal.client.get("/connections/failed/")
    assert "You declined" in page.content.decode()
    assert not ZohoGrant.objects.exists()
    assert token_calls(sandbox) == []
    assert AuditEvent.objects.filter(
        action="grant.connect_failed", detail__reason="declined"
    ).exists()


def test_provider_error_description_is_never_echoed(portal, sandbox):
    authorize = portal.start()
    state = query_of(authorize)["state"]
    query = urlencode(
        {"error": "server_error", "error_description": "<script>alert(1)</script>", "state": state}
    )
    portal.client.get(f"/connections/callback/?{query}")
    page = portal.client.get("/connections/failed/").content.decode()
    assert "<script>alert(1)" not in page and "Zoho reported a problem" in page
    assert token_calls(sandbox) == []


class Decoy:
    """A local listener that must never be contacted (a second NO-EGRESS witness)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                outer.hits.append(self.path)
                self.send_response(500)
                self.end_headers()

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def decoy():
    listener = Decoy()
    yield listener
    listener.close()


@pytest.mark.parametrize(
    ("location", "server"),
    [
        ("eu", "{decoy}"),  # OA-01 attacker host
        ("eu", "{sandbox_in}"),  # OA-03a location and server disagree
        ("xx", "{decoy}"),  # OA-03b unknown location
        ("", "{sandbox_eu}"),  # OA-03c location missing
        ("eu", "{sandbox_eu}.evil.example"),
    ],
)
def test_untrusted_accounts_server_is_refused_before_any_request(
    portal, sandbox, decoy, location, server
):
    authorize = portal.start()
    callback = query_of(sandbox.consent(authorize, zuid=EU))
    server = server.format(
        decoy=decoy.url,
        sandbox_in=sandbox.accounts_url("in"),
        sandbox_eu=sandbox.accounts_url("eu"),
    )
    query = urlencode(
        {
            "code": callback["code"],
            "state": callback["state"],
            "location": location,
            "accounts-server": server,
        }
    )
    response = portal.client.get(f"/connections/callback/?{query}")
    assert response["Location"] == "/connections/failed/"
    assert (
        "server we do not recognise" in portal.client.get("/connections/failed/").content.decode()
    )
    assert token_calls(sandbox) == [] and decoy.hits == []
    assert not ZohoGrant.objects.exists()
    event = AuditEvent.objects.get(action="grant.connect_failed")
    assert event.detail["reason"] == "untrusted_server"
    # the state was consumed: replaying it with the right server does not work either
    good = urlencode({**callback, "accounts-server": callback["accounts-server"]})
    portal.client.get(f"/connections/callback/?{good}")
    assert token_calls(sandbox) == []


def test_callback_in_another_dc_than_started_is_accepted_and_recorded(portal, alice):
    """OA-03(d): the request starts at the US server; Zoho names the user's own DC (EU).
    Both values are allow-listed and agree, so the grant records the DC actually used."""
    portal.connect(EU)
    assert ZohoGrant.objects.get(user=alice).data_centre == "eu"


def test_callback_without_state_is_refused(portal, sandbox):
    callback = query_of(sandbox.consent(portal.start(), zuid=EU))
    del callback["state"]
    response = portal.client.get(f"/connections/callback/?{urlencode(callback)}")
    assert response["Location"] == "/connections/failed/"
    assert token_calls(sandbox) == [] and not ZohoGrant.objects.exists()


def test_state_from_another_session_is_refused(portal, sandbox, bob, alice):
    """OA-08/OA-14: the attacker's state and code, sent through the victim's browser."""
    attacker = PortalBrowser(Client(), sandbox)
    attacker.client.force_login(bob)
    callback_url = sandbox.consent(attacker.start(), zuid=US)
    response = portal.callback(callback_url)
    assert response["Location"] == "/connections/failed/"
    assert (
        "does not belong to this session"
        in portal.client.get("/connections/failed/").content.decode()
    )
    assert token_calls(sandbox) == []
    assert not ZohoGrant.objects.filter(user=alice).exists()


def test_replayed_callback_makes_no_second_exchange(portal, sandbox):
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    assert portal.callback(callback_url).status_code == 303
    again = portal.callback(callback_url)
    assert again["Location"] == "/connections/"
    assert len(token_calls(sandbox)) == 1


def test_replay_after_a_failed_exchange_is_refused(portal, sandbox):
    sandbox.add_fault("status", endpoint="token", status=503, count=1)
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    portal.callback(callback_url)
    portal.callback(callback_url)
    assert len(token_calls(sandbox)) == 1
    assert not ZohoGrant.objects.exists()


def test_expired_state_is_refused(portal, sandbox):
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = portal.callback(callback_url)
    assert response["Location"] == "/connections/failed/"
    assert "expired" in portal.client.get("/connections/failed/").content.decode()
    assert token_calls(sandbox) == []


def test_two_flows_in_parallel_both_complete(portal, sandbox, alice):
    first = portal.start()
    second = portal.start(region="cn")
    cn_callback = sandbox.consent(second, zuid=CN)
    eu_callback = sandbox.consent(first, zuid=EU)
    assert portal.callback(cn_callback).status_code == 303
    assert portal.callback(eu_callback).status_code == 303
    assert set(ZohoGrant.objects.filter(user=alice).values_list("data_centre", flat=True)) == {
        "cn",
        "eu",
    }


def test_double_submitted_callback_exchanges_the_code_once(portal, sandbox, alice):
    """OA-21: two identical callbacks at once; the state is consumed under a row lock."""
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    second = Client()
    second.cookies = portal.client.cookies
    browsers = [portal, PortalBrowser(second, sandbox)]
    assert race([partial(b.callback, callback_url) for b in browsers]).errors == []
    assert len(token_calls(sandbox)) == 1
    assert ZohoGrant.objects.filter(user=alice).count() == 1


def test_stolen_code_injected_into_another_session_is_refused(portal, sandbox, bob):
    """OA-13: the victim's code with the attacker's own state: PKCE makes Zoho refuse it."""
    sandbox.set_pkce_enforced(True)
    victim_code = query_of(sandbox.consent(portal.start(), zuid=EU))
    attacker = PortalBrowser(Client(), sandbox)
    attacker.client.force_login(bob)
    attacker_state = query_of(sandbox.consent(attacker.start(), zuid=US))["state"]
    injected = {**victim_code, "state": attacker_state}
    response = attacker.client.get(f"/connections/callback/?{urlencode(injected)}")
    assert response["Location"] == "/connections/failed/"
    assert not ZohoGrant.objects.filter(user=bob).exists()


@pytest.mark.parametrize(
    ("fault", "params", "message"),
    [
        ("status", {"status": 503}, "did not answer properly"),
        ("error_200", {"error": "invalid_code"}, "did not accept"),
        ("error_200", {"error": "invalid_client"}, "not something you did"),
        ("malformed_json", {}, "did not answer properly"),
        ("html_200", {}, "did not answer properly"),
        ("hang", {"seconds": 4}, "did not answer properly"),
        ("redirect", {"location": "https://evil.example/"}, "did not answer properly"),
        ("oversized", {"size": 2_000_000}, "did not answer properly"),
        ("omit_refresh_token", {}, "offline access"),
    ],
)
def test_token_endpoint_failures_end_cleanly_with_nothing_stored(
    portal, sandbox, fault, params, message
):
    sandbox.add_fault(fault, endpoint="token", **params)
    response = portal.connect(EU)
    assert response["Location"] == "/connections/failed/"
    page = portal.client.get("/connections/failed/")
    assert message in page.content.decode()
    assert "Try again" in page.content.decode()
    assert not ZohoGrant.objects.exists()
    if fault == "hang":  # the sandbox records a hung call when it ends: wait for it
        wait_for(lambda: token_calls(sandbox))
    assert len(token_calls(sandbox)) == 1  # a single-use code is never retried


@pytest.mark.parametrize("endpoint", ["userinfo", "desk_organizations"])
def test_identity_failures_store_nothing(portal, sandbox, endpoint):
    sandbox.add_fault("status", endpoint=endpoint, status=500)
    assert portal.connect(EU)["Location"] == "/connections/failed/"
    assert not ZohoGrant.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        {"state": "x" * 8000, "code": "c"},
        {"state": "s", "code": "c" * 100_000},
        {"state": "s\x00", "code": "c"},
        {"state": "s", "code": "c", "accounts-server": "h" * 5000},
    ],
)
def test_oversized_or_garbage_callback_values_are_refused_quietly(portal, sandbox, query):
    response = portal.client.get(f"/connections/callback/?{urlencode(query)}")
    assert response.status_code in (303, 400)
    assert token_calls(sandbox) == []


def test_session_that_ended_during_consent_restarts_cleanly(portal, sandbox):
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    portal.client.logout()
    response = portal.callback(callback_url)
    assert response.status_code == 303
    assert response["Location"] == "/accounts/login/"
    assert token_calls(sandbox) == []


def test_reconnecting_the_same_zoho_user_updates_in_place_and_revokes_the_old_token(
    portal, sandbox, alice
):
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    old_refresh, _ = secrets_of(grant)
    response = portal.connect(EU)
    assert response["Location"] == f"/connections/{grant.pk}/"
    assert ZohoGrant.objects.filter(user=alice).count() == 1
    new_refresh, _ = secrets_of(grant)
    assert new_refresh != old_refresh
    revokes = [r for r in sandbox.requests() if r["endpoint"] == "revoke"]
    assert len(revokes) == 1 and revokes[0]["status"] == 200
    live = [g for g in sandbox.grants(zuid=EU) if g["active"]]
    assert len(live) == 1
    actions = list(AuditEvent.objects.filter(grant_id=grant.pk).values_list("action", flat=True))
    assert "grant.reconnected" in actions and "grant.superseded_token_revoked" in actions


def test_same_zoho_account_for_two_portal_users_is_allowed_and_audited(portal, sandbox, alice, bob):
    portal.connect(EU)
    other = PortalBrowser(Client(), sandbox)
    other.client.force_login(bob)
    other.connect(EU)
    alice_grant = ZohoGrant.objects.get(user=alice)
    bob_grant = ZohoGrant.objects.get(user=bob)
    assert alice_grant.pk != bob_grant.pk
    assert AuditEvent.objects.filter(grant_id=alice_grant.pk, action="grant.connected").count() == 2
    alice_page = portal.client.get(f"/connections/{alice_grant.pk}/").content.decode()
    assert "bob@example.com" not in alice_page


def test_another_users_grant_page_is_404(portal, bob, alice):
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    other = Client()
    other.force_login(bob)
    assert other.get(f"/connections/{grant.pk}/").status_code == 404
