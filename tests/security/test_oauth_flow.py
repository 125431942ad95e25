"""OA: the OAuth connect flow against the sandbox over real HTTP (security checklist, section A).

NO-EGRESS is read from the sandbox's request record (and, for foreign hosts, a decoy listener).
"""

import base64
import hashlib
import logging
from datetime import timedelta
from functools import partial
from importlib import metadata
from urllib.parse import urlencode, urlsplit

import pytest
import time_machine
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from portal.grants import oauth_state
from portal.log_filters import PortalExceptionReporterFilter, RedactSecretsFilter
from portal.models import OrphanedToken, ZohoGrant
from tests.cast import CN, EU, SAMPLE_TOKEN, US
from tests.connecting import grant_rows, query_of, secrets_of, token_calls
from tests.leaks import assert_no_leak
from tests.pins import REQUIREMENTS, pins, version_tuple
from tests.portal_browser import PortalBrowser
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True)
LOGIN = reverse("accounts:login")
CONNECTIONS = reverse("portal:connections")


def test_OA_19_secrets_of_a_connection_appear_in_no_page_log_or_row(
    portal, sandbox, alice, caplog, settings
):
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


def test_OA_12_authorize_request_sends_an_s256_challenge_and_never_the_verifier(portal, settings):
    params = query_of(portal.start())
    assert params["access_type"] == "offline" and params["prompt"] == "consent"
    assert params["scope"] == ",".join(settings.ZOHO_SCOPES)
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert "code_verifier" not in params
    assert params["redirect_uri"] == settings.ZOHO_REDIRECT_URI


def test_OA_12_connect_works_when_zoho_enforces_pkce(portal, sandbox, alice):
    sandbox.set_pkce_enforced(True)
    assert portal.connect(EU).status_code == 303
    assert ZohoGrant.objects.filter(user=alice).count() == 1


def test_OA_18_callback_answers_a_clean_303_with_no_referrer_and_no_store(portal):
    response = portal.connect(EU)
    assert response.status_code == 303
    assert "code=" not in response["Location"] and "state=" not in response["Location"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


def test_OA_15_declining_on_zoho_stores_nothing_and_is_audited(portal, sandbox, alice):
    response = portal.connect(EU, approve=False)
    assert response["Location"] == "/connections/failed/"
    page = portal.client.get("/connections/failed/")
    assert "You declined" in page.content.decode()
    assert not ZohoGrant.objects.exists()
    assert token_calls(sandbox) == []
    assert AuditEvent.objects.filter(
        action="grant.connect_failed", detail__reason="declined"
    ).exists()


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
def test_OA_01_untrusted_accounts_server_is_refused_before_any_request(
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


def test_OA_03_callback_in_another_dc_than_started_is_accepted_and_recorded(portal, alice):
    """OA-03(d): the request starts at the US server; Zoho names the user's own DC (EU).
    Both values are allow-listed and agree, so the grant records the DC actually used."""
    portal.connect(EU)
    assert ZohoGrant.objects.get(user=alice).data_centre == "eu"


def test_OA_07_callback_without_state_is_refused_before_any_request(portal, sandbox):
    callback = query_of(sandbox.consent(portal.start(), zuid=EU))
    del callback["state"]
    response = portal.client.get(f"/connections/callback/?{urlencode(callback)}")
    assert response["Location"] == "/connections/failed/"
    assert token_calls(sandbox) == [] and not ZohoGrant.objects.exists()


def test_OA_14_attackers_state_and_code_in_the_victims_browser_bind_nothing(
    portal, sandbox, bob, alice
):
    """The attacker's own state and code, sent through the victim's browser: the state is not
    in the victim's session, so the victim is never bound to the attacker's Zoho account."""
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


def test_OA_09_replayed_callback_makes_no_second_exchange(portal, sandbox):
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    assert portal.callback(callback_url).status_code == 303
    again = portal.callback(callback_url)
    assert again["Location"] == "/connections/"
    assert len(token_calls(sandbox)) == 1


def test_OA_09_replay_after_a_failed_exchange_is_refused(portal, sandbox):
    sandbox.add_fault("status", endpoint="token", status=503, count=1)
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    portal.callback(callback_url)
    portal.callback(callback_url)
    assert len(token_calls(sandbox)) == 1
    assert not ZohoGrant.objects.exists()


def test_OA_10_expired_state_is_refused_before_any_request(portal, sandbox):
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = portal.callback(callback_url)
    assert response["Location"] == "/connections/failed/"
    assert "expired" in portal.client.get("/connections/failed/").content.decode()
    assert token_calls(sandbox) == []


def test_OA_11_two_flows_in_parallel_both_complete(portal, sandbox, alice):
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


def test_OA_21_double_submitted_callback_exchanges_the_code_once(portal, sandbox, alice):
    """OA-21: two identical callbacks at once; the state is consumed under a row lock."""
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    second = Client()
    second.cookies = portal.client.cookies
    browsers = [portal, PortalBrowser(second, sandbox)]
    assert race([partial(b.callback, callback_url) for b in browsers]).errors == []
    assert len(token_calls(sandbox)) == 1
    assert ZohoGrant.objects.filter(user=alice).count() == 1


def test_OA_13_stolen_code_injected_into_another_session_is_refused(portal, sandbox, bob):
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


def test_OA_23_same_zoho_account_for_two_portal_users_makes_two_separate_grants(
    portal, sandbox, alice, bob
):
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


def test_OA_08_a_state_from_another_session_changes_none_of_the_victims_grants(
    portal, sandbox, connected, alice, bob
):
    """The attacker's valid state and code, replayed through the victim's browser: refused
    before any request to Zoho, and the victim's existing grant is byte-identical (NO-LOSS)."""
    before = grant_rows(user=alice)
    calls_before = len(token_calls(sandbox))
    attacker = PortalBrowser(Client(), sandbox)
    attacker.client.force_login(bob)
    response = portal.callback(sandbox.consent(attacker.start(), zuid=US))
    assert response["Location"] == "/connections/failed/"
    assert len(token_calls(sandbox)) == calls_before
    assert grant_rows(user=alice) == before
    assert not ZohoGrant.objects.filter(user=bob).exists()


def test_OA_08_a_state_is_bound_to_the_session_that_started_it_not_only_to_the_user(alice):
    """The same user in another session (another browser) cannot use the state: the pending
    request is looked up by user, session and state together."""
    state, _ = oauth_state.create_pending(
        user_id=alice.pk, session_key="attacker-session", region="global"
    )
    with pytest.raises(oauth_state.StateError, match="unknown"):
        oauth_state.consume_pending(user_id=alice.pk, session_key="victim-session", state=state)


def test_OA_20_the_grant_records_the_scope_zoho_actually_granted(portal, sandbox, alice, settings):
    """The authorize request asks for exactly the configured scopes; when Zoho grants fewer,
    the grant stores what was granted, not what was asked for."""
    assert query_of(portal.start())["scope"] == ",".join(settings.ZOHO_SCOPES)
    granted = "Desk.basic.READ,AaaServer.profile.READ"
    sandbox.add_fault("grant_scope", value=granted)
    assert portal.connect(EU).status_code == 303
    assert ZohoGrant.objects.get(user=alice).scope == granted


def test_OA_25_a_callback_flood_never_reaches_zoho_and_is_cut_off(portal, sandbox):
    """Manufactured codes with random or missing state: every one is refused before any request
    (the state is checked first), and after the per-client budget the answer is 429."""
    start = timezone.now().replace(minute=1, second=0, microsecond=0)  # one rate window
    with time_machine.travel(start, tick=False):
        statuses = [
            portal.client.get(
                f"/connections/callback/?code=1000.{n:032x}" + (f"&state=s{n}" if n % 2 else "")
            ).status_code
            for n in range(61)
        ]
    assert statuses[:60] == [303] * 60 and statuses[60] == 429
    assert token_calls(sandbox) == []


AUTHLIB_FIXED = (1, 6, 11)  # the cache-backed state CSRF fix; CVE-2025-68158 was fixed in 1.6.6


def test_OA_26_authlib_is_pinned_at_or_above_the_state_fixes_and_keeps_no_state_cache():
    """The pinned and the installed authlib are at or above the release that fixed the
    state-in-cache advisories, and the portal uses authlib's plain OAuth2 client (no framework
    registry, so no ``cache=`` that could hold state outside the session)."""
    pinned = pins()["Authlib"]
    assert version_tuple(pinned) >= AUTHLIB_FIXED
    assert metadata.version("Authlib") == pinned
    portal_root = REQUIREMENTS.parent / "portal"
    zoho = "\n".join(path.read_text() for path in portal_root.rglob("*.py"))
    assert "authlib.integrations.django_client" not in zoho and "cache=" not in zoho


def test_OA_19_log_filter_scrubs_formatted_records(caplog):
    logger = logging.getLogger("test.leaks")
    logger.addFilter(RedactSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger="test.leaks"):
            logger.info("token was %s", SAMPLE_TOKEN)
    finally:
        logger.filters.clear()
    assert SAMPLE_TOKEN not in caplog.text
    assert "[redacted]" in caplog.text


def test_OA_19_error_reports_scrub_the_query_string():
    request = RequestFactory().get("/connections/callback/?code=abc123&state=xyz789")
    meta = PortalExceptionReporterFilter().get_safe_request_meta(request)
    assert "abc123" not in meta["QUERY_STRING"] and "xyz789" not in meta["QUERY_STRING"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "///evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "http://testserver\\@evil.example",
        "\\\\evil.example",
        "data:text/html,<script>alert(1)</script>",
        "%2F%2Fevil.example",
        "/%09/evil.example",
    ],
)
def test_OA_17_login_never_redirects_off_site(client, alice, password, target):
    """``next`` as written in the query string (percent-escapes decoded once, as a browser
    sends them): anything but a same-origin path lands on the dashboard."""
    response = client.post(
        f"{LOGIN}?next={target}", {"username": "alice@example.com", "password": password}
    )
    assert response.status_code == 302
    assert response["Location"] == CONNECTIONS


@pytest.mark.django_db
def test_OA_17_a_crlf_laden_next_injects_no_header_and_stays_on_site(client, alice, password):
    """CR/LF in ``next`` stay percent-encoded inside one same-origin path: no second header,
    no foreign host."""
    response = client.post(
        f"{LOGIN}?next=/%0D%0ALocation:%20https://evil.example",
        {"username": "alice@example.com", "password": password},
    )
    location = response["Location"]
    assert response.status_code == 302
    assert location.startswith("/") and not location.startswith("//")
    assert "\r" not in location and "\n" not in location
    assert urlsplit(location).netloc == ""


@pytest.mark.django_db
def test_OA_17_login_follows_a_local_next(client, alice, password):
    response = client.post(
        f"{LOGIN}?next=/accounts/password/change/",
        {"username": "alice@example.com", "password": password},
    )
    assert response["Location"] == "/accounts/password/change/"


def test_OA_12_the_challenge_is_the_s256_of_a_verifier_kept_on_the_server(portal, alice):
    """The authorize URL carries BASE64URL(SHA256(verifier)) and never the verifier, which is
    43 to 128 characters and kept server-side with the state for this session."""
    authorize = portal.start()
    query = query_of(authorize)
    pending = oauth_state.consume_pending(
        user_id=alice.pk, session_key=portal.client.session.session_key, state=query["state"]
    )
    verifier = pending.code_verifier
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert verifier not in authorize


def test_OA_20_a_token_without_a_required_scope_connects_nothing_and_is_revoked(
    portal, sandbox, alice, settings
):
    """Zoho grants everything but Desk.basic.READ (the organizations call needs it): nothing
    is stored, the refresh token is revoked at Zoho at once, the customer is told to connect
    again allowing everything, and the failure is audited with the missing scope."""
    sandbox.add_fault("grant_scope", value="Desk.settings.READ,AaaServer.profile.READ", count=1)
    answer = portal.connect(EU)
    assert answer.status_code == 303
    assert not ZohoGrant.objects.filter(user=alice).exists()
    assert [r["endpoint"] for r in sandbox.requests() if r["endpoint"] == "revoke"] == ["revoke"]
    assert not OrphanedToken.objects.exists()  # revoked, so nothing left to retry
    page = portal.client.get(answer["Location"])
    assert "only part of the access it needs" in page.content.decode()
    failed = AuditEvent.objects.get(action="grant.connect_failed")
    assert failed.detail["reason"] == "scope_missing"
    assert failed.detail["missing"] == "Desk.basic.READ"


def test_OA_20_a_reconnect_without_a_required_scope_leaves_the_working_grant_alone(
    portal, sandbox, alice
):
    assert portal.connect(EU).status_code == 303
    before = ZohoGrant.objects.get(user=alice)
    sandbox.add_fault("grant_scope", value="Desk.basic.READ", count=1)  # no AaaServer.profile
    portal.connect(EU)
    # Refused for the scope, before any call the missing scope would fail, and the new
    # token given back to Zoho at once (not left alive, counting toward the user's cap).
    failed = AuditEvent.objects.get(action="grant.connect_failed")
    assert failed.detail["reason"] == "scope_missing"
    assert [r["endpoint"] for r in sandbox.requests() if r["endpoint"] == "revoke"] == ["revoke"]
    after = ZohoGrant.objects.get(user=alice)
    assert (after.status, after.scope) == ("active", before.scope)
    assert after.refresh_token_encrypted is not None and before.refresh_token_encrypted is not None
    assert bytes(after.refresh_token_encrypted) == bytes(before.refresh_token_encrypted)


def test_OA_20_every_required_scope_must_be_asked_for(settings):
    from portal.checks import check_required_scopes

    assert check_required_scopes() == []
    settings.ZOHO_REQUIRED_SCOPES = ["Desk.tickets.READ"]
    assert [message.id for message in check_required_scopes()] == ["portal.E027"]
