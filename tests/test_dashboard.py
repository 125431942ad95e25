"""The connections dashboard: truthful status, test, refresh, reconnect, revoke, hide."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from portal.grants.status import grant_row
from portal.models import ZohoGrant
from tests.cast import EU

pytestmark = pytest.mark.django_db(transaction=True)


def page(client, url):
    return client.get(url).content.decode()


def test_empty_dashboard_explains_and_offers_connect(client, alice):
    client.force_login(alice)
    body = page(client, "/connections/")
    assert "No Zoho Desk account connected yet" in body
    assert 'action="/connections/connect/"' in body


def test_status_is_computed_from_state_and_clock(make_grant):
    now = timezone.now()
    grant = make_grant()
    assert grant_row(grant, now=now).status_label == "Active"
    assert "more minute" in grant_row(grant, now=now).status_detail
    assert grant_row(grant, now=now + timedelta(hours=2)).status_label == "Idle"
    grant.status, grant.last_error = "trouble", "timeout"
    assert "did not answer in time" in grant_row(grant, now=now).status_detail
    grant.status, grant.last_error = "needs_reconnect", "invalid_code"
    row = grant_row(grant, now=now)
    assert row.status_label == "Needs reconnect" and "revoked in Zoho" in row.status_detail
    assert row.can_reconnect and not row.can_test
    grant.status = "revoking"
    assert not grant_row(grant, now=now).can_refresh
    grant.status, grant.revoked_at, grant.revoked_by_repr = "revoked", now, "alice@example.com"
    row = grant_row(grant, now=now)
    assert "by alice@example.com" in row.status_detail and row.can_hide and not row.can_revoke


def test_dashboard_lists_status_with_text_and_icon(portal, connected):
    body = page(portal.client, "/connections/")
    assert "Example Support" in body and "agent@example.eu" in body
    assert 'class="status status-active"' in body and "Active</span>" in body
    assert 'aria-hidden="true">✓' in body


def test_test_connection_shows_organization_and_agent(portal, sandbox, connected):
    response = portal.client.post(f"/connections/{connected.pk}/test/", follow=True)
    body = response.content.decode()
    assert "Example Support" in body and "Émilie du Châtelet" in body
    endpoints = [r["endpoint"] for r in sandbox.requests()]
    assert endpoints.count("refresh") == 0  # the stored token was still fresh
    assert endpoints[-2:] == ["desk_organizations", "desk_myinfo"]
    assert AuditEvent.objects.filter(action="grant.tested", outcome="success").count() == 1


def test_test_connection_refreshes_an_expired_token_once(portal, sandbox, connected):
    ZohoGrant.objects.filter(pk=connected.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    portal.client.post(f"/connections/{connected.pk}/test/")
    assert [r["endpoint"] for r in sandbox.requests()].count("refresh") == 1
    connected.refresh_from_db()
    assert connected.access_token_expires_at > timezone.now() + timedelta(minutes=50)
    assert AuditEvent.objects.filter(action="grant.refreshed").count() == 1


def test_grant_revoked_in_zoho_shows_needs_reconnect_after_test(portal, sandbox, connected):
    sandbox.revoke_user_grants(EU)
    response = portal.client.post(f"/connections/{connected.pk}/test/", follow=True)
    connected.refresh_from_db()
    assert connected.status == "needs_reconnect"
    assert "Needs reconnect" in response.content.decode()
    assert AuditEvent.objects.filter(action="grant.refresh_failed").count() == 1


def test_refresh_now_forces_one_refresh_and_shows_the_expiry(portal, sandbox, connected):
    ZohoGrant.objects.filter(pk=connected.pk).update(
        last_refreshed_at=timezone.now() - timedelta(minutes=5)
    )
    response = portal.client.post(f"/connections/{connected.pk}/refresh/", follow=True)
    assert "Refreshed: the access token is valid for" in response.content.decode()
    response = portal.client.post(f"/connections/{connected.pk}/refresh/", follow=True)
    page = response.content.decode()
    assert "Already refreshed moments ago" in page and "You can refresh again in" in page
    assert "message-info" in page  # the throttle is a friendly note, not an error
    assert [r["endpoint"] for r in sandbox.requests()].count("refresh") == 1


def test_upstream_trouble_keeps_the_grant_and_says_so(portal, sandbox, connected):
    ZohoGrant.objects.filter(pk=connected.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    sandbox.add_fault("status", endpoint="refresh", status=503)
    response = portal.client.post(f"/connections/{connected.pk}/test/", follow=True)
    connected.refresh_from_db()
    assert connected.status == "trouble" and connected.refresh_token_encrypted is not None
    assert "Upstream trouble" in response.content.decode()
    assert connected.retry_at > timezone.now()  # backing off before asking Zoho again
    sandbox.clear_faults()
    portal.client.post(f"/connections/{connected.pk}/test/")
    assert [r["endpoint"] for r in sandbox.requests()].count("refresh") == 1
    ZohoGrant.objects.filter(pk=connected.pk).update(retry_at=timezone.now())
    portal.client.post(f"/connections/{connected.pk}/test/")
    connected.refresh_from_db()
    assert connected.status == "active" and connected.failure_count == 0


def test_reconnect_brings_a_needs_reconnect_grant_back_with_the_same_id(portal, sandbox, connected):
    ZohoGrant.objects.filter(pk=connected.pk).update(
        status="needs_reconnect", last_error="invalid_code"
    )
    response = portal.client.post(f"/connections/{connected.pk}/reconnect/")
    assert (
        response.status_code == 302 and "/sandbox/us/accounts/oauth/v2/auth" in response["Location"]
    )
    back = portal.callback(sandbox.consent(response["Location"], zuid=EU))
    assert back["Location"] == f"/connections/{connected.pk}/"
    connected.refresh_from_db()
    assert connected.status == "active"


def test_revoked_grant_can_be_hidden_and_history_stays(portal, connected):
    portal.client.post(f"/connections/{connected.pk}/revoke/")
    portal.client.post(f"/connections/{connected.pk}/hide/")
    assert "Example Support" not in page(portal.client, "/connections/")
    assert AuditEvent.objects.filter(grant_id=connected.pk, action="grant.hidden").exists()
    assert portal.client.get(f"/connections/{connected.pk}/").status_code == 200


def test_only_revoked_grants_can_be_hidden(portal, connected):
    response = portal.client.post(f"/connections/{connected.pk}/hide/", follow=True)
    assert "Only revoked connections" in response.content.decode()
    connected.refresh_from_db()
    assert connected.hidden_at is None


def test_anonymous_visitors_are_sent_to_log_in(connected):
    anonymous = Client()
    for url in (f"/connections/{connected.pk}/", f"/connections/{connected.pk}/revoke/"):
        assert anonymous.get(url)["Location"].startswith("/accounts/login/")
