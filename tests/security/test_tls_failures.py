"""OA-06: Zoho's accounts server presents a bad certificate; the portal fails closed.

The sandbox is put behind an HTTPS front (tests/tls_front.py) whose certificate is made at test
time, and the EU data centre's accounts server is pointed at it. The front's CA is trusted
(``SSL_CERT_FILE``, which the HTTP library reads), so each bad certificate fails for its own
defect: self-signed, for another host, expired; the good one shows the front itself works.
The code exchange and the refresh both stop at the handshake: nothing reaches the sandbox, no
token is stored, the person reads a plain sentence, and the grant is only in trouble (an
upstream failure that may pass), never condemned.
"""

import logging
import re
import ssl
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.utils import timezone
from django.utils.html import escape

from accounts.models import AuditEvent
from portal.api.keys import create_service_key
from portal.crypto import decrypt_token
from portal.grants import wording
from portal.models import ZohoGrant
from portal.zoho import http as zoho_http
from tests.cast import EU
from tests.leaks import assert_no_leak
from tests.tls_front import TlsFront, make_certificates

pytestmark = pytest.mark.django_db(transaction=True)
BAD = ("self_signed", "wrong_host", "expired")


@pytest.fixture
def certificates(tmp_path, monkeypatch):
    made = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(made.ca_file))
    zoho_http._tls_context.cache_clear()  # built once per process: build it with the test CA
    yield made
    zoho_http._tls_context.cache_clear()


@pytest.fixture
def eu_behind_tls(request, certificates, live_server, settings, sandbox):
    """EU's accounts server is the sandbox's, behind HTTPS with the ``kind`` certificate."""
    cert_file, key_file = certificates.chains[request.param]
    backend = (live_server.thread.host, live_server.thread.port)
    front = TlsFront(backend, cert_file, key_file)
    url = front.url("/sandbox/eu/accounts")
    settings.ZOHO_DC_ACCOUNTS_URLS = {**settings.ZOHO_DC_ACCOUNTS_URLS, "eu": url}
    yield front
    front.close()


def zoho_calls(sandbox, endpoint):
    return [r for r in sandbox.requests(dc="eu") if r["endpoint"] == endpoint]


def expire(grant):
    ZohoGrant.objects.filter(pk=grant.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )


def ask_for_token(client, grant):
    raw = create_service_key(name="desk app")[1]
    return client.post(
        f"/api/v1/grants/{grant.pk}/access-token",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )


@pytest.mark.parametrize("eu_behind_tls", ["good"], indirect=True)
def test_OA_06_the_https_front_with_a_good_certificate_serves_the_refresh(
    client, connected, sandbox, eu_behind_tls
):
    """The control: the same front, trusted, carries a refresh; so the failures below are the
    certificates' doing."""
    expire(connected)
    response = ask_for_token(client, connected)
    assert response.status_code == 200, response.content[:300]
    assert eu_behind_tls.piped >= 1 and eu_behind_tls.failed_handshakes == 0
    assert len(zoho_calls(sandbox, "refresh")) == 1


@pytest.mark.parametrize("eu_behind_tls", BAD, indirect=True)
def test_OA_06_refresh_over_a_bad_certificate_fails_closed_and_keeps_the_grant(
    client, connected, sandbox, eu_behind_tls, caplog, settings
):
    refresh_token = decrypt_token(connected.refresh_token_encrypted, context=str(connected.pk))
    expire(connected)
    before = ZohoGrant.objects.values().get(pk=connected.pk)
    with caplog.at_level(logging.INFO):
        response = ask_for_token(client, connected)
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_unavailable"
    assert eu_behind_tls.failed_handshakes >= 1 and eu_behind_tls.piped == 0
    assert zoho_calls(sandbox, "refresh") == []  # no body was ever sent

    grant = ZohoGrant.objects.get(pk=connected.pk)
    assert (grant.status, grant.last_error) == (ZohoGrant.Status.TROUBLE, "tls_error")
    after = ZohoGrant.objects.values().get(pk=connected.pk)
    for name in ("refresh_token_encrypted", "access_token_encrypted", "access_token_expires_at"):
        assert after[name] == before[name]  # NO-LOSS
    event = AuditEvent.objects.get(action="grant.refresh_failed", grant_id=grant.pk)
    assert event.detail == {"error": "tls_error", "status": "trouble"}
    assert "outcome=tls_error" in caplog.text

    page = client.get(f"/connections/{grant.pk}/").content.decode()
    assert escape(wording.error_words("tls_error")) in page
    secrets = [refresh_token, settings.ZOHO_CLIENT_SECRET]
    assert_no_leak(secrets, caplog.text, response.content.decode(), page)


@pytest.mark.parametrize("eu_behind_tls", BAD, indirect=True)
def test_OA_06_code_exchange_over_a_bad_certificate_connects_nothing(
    portal, sandbox, alice, eu_behind_tls, caplog, settings
):
    callback = dict(parse_qsl(urlsplit(sandbox.consent(portal.start(), zuid=EU)).query))
    callback["accounts-server"] = eu_behind_tls.url("/sandbox/eu/accounts")
    with caplog.at_level(logging.INFO):
        response = portal.client.get(f"/connections/callback/?{urlencode(callback)}")
    assert response["Location"] == "/connections/failed/"
    page = portal.client.get("/connections/failed/").content.decode()
    assert escape(wording.connect_failure("unavailable")) in page

    assert eu_behind_tls.failed_handshakes >= 1 and eu_behind_tls.piped == 0
    assert zoho_calls(sandbox, "token") == []  # the code never left the portal
    assert not ZohoGrant.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action="grant.connect_failed")
    assert event.detail == {"reason": "unavailable", "dc": "eu", "zoho_error": "tls_error"}
    assert "zoho token dc=eu outcome=tls_error" in caplog.text
    secrets = [callback["code"], callback["state"], settings.ZOHO_CLIENT_SECRET]
    assert_no_leak(secrets, caplog.text, page)


def test_OA_06_certificates_are_always_verified():
    """No setting turns verification off: the one TLS context every Zoho client uses checks
    the chain and the host name, and no code of the portal's switches either off."""
    context = zoho_http._tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    switch_off = re.compile(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False")
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for room in ("portal", "accounts")
        for path in (root / room).rglob("*.py")
        if switch_off.search(path.read_text())
    ]
    assert offenders == []
