"""Issue 14, item 1: the portal's own misconfiguration never condemns a customer's grant.

Zoho answering ``invalid_client`` (or a kin code) about the portal's client pauses refreshes in
that data centre, tells staff once, probes with back-off and recovers by itself; every grant
stays exactly as it was. All over real HTTP against the sandbox.
"""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import AuditEvent
from portal.api.keys import create_service_key
from portal.grants import orphans, tokens
from portal.grants.client_health import Rejection, rejection_for
from portal.grants.revocation import revoke_grant
from portal.models import DataCentreHealth, OrphanedToken, ZohoGrant
from portal.upkeep import sweeps
from tests.connecting import refreshes
from tests.mail_parts import delivered
from tests.staff_permissions import give

pytestmark = pytest.mark.django_db(transaction=True)

US = "10000001"  # the sandbox's us user (sandbox/seed.py)
EU = "20000001"  # the eu user, whose grant ``connected`` is
Action = AuditEvent.Action


@pytest.fixture
def ops(make_user):
    """Staff who see the fleet (told), and staff who do not (not told)."""
    watcher = make_user("ops@example.com", is_staff=True)
    give(watcher, "view_all_grants")
    make_user("keys@example.com", is_staff=True)  # staff without the permission
    return watcher


def row(grant_id):
    """Every column of a grant, bytes for the ciphertexts (NO-LOSS compares these)."""
    values = ZohoGrant.objects.filter(pk=grant_id).values().get()
    return {k: bytes(v) if isinstance(v, memoryview) else v for k, v in values.items()}


def episode(dc: str = "eu") -> Rejection:
    """The open rejection episode of ``dc`` (there must be one)."""
    rejection = rejection_for(data_centre=dc)
    assert rejection is not None and rejection.next_probe_at is not None
    return rejection


def probe_time(dc: str = "eu"):
    """A moment just after the next probe of ``dc`` is due."""
    due = episode(dc).next_probe_at
    assert due is not None
    return due + timedelta(seconds=1)


def reject_client(sandbox, error="invalid_client", dc="eu"):
    sandbox.add_fault("error_200", dc=dc, endpoint="refresh", error=error)


def api_token(client, grant, raw, **body):
    return client.post(
        f"/api/v1/grants/{grant.pk}/access-token",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )


@pytest.mark.parametrize(
    "error",
    ["invalid_client", "invalid_client_secret", "invalid_redirect_uri", "unauthorized_client"],
)
def test_client_rejection_keeps_the_grant_exactly_and_tells_no_owner(expired, sandbox, ops, error):
    before = row(expired.pk)
    mail.outbox.clear()
    reject_client(sandbox, error)

    with pytest.raises(tokens.PortalMisconfigured) as raised:
        tokens.get_access_token(grant_id=expired.pk)

    assert raised.value.code == "portal_misconfigured" and raised.value.retry_after
    assert row(expired.pk) == before  # not Needs reconnect, not Trouble, no purge clock
    assert not AuditEvent.objects.filter(grant_id=expired.pk, action=Action.REFRESH_FAILED)
    state = DataCentreHealth.objects.get(pk="eu")
    assert state.rejected_since and state.last_error == error and state.next_probe_at
    [message] = delivered()
    assert message.to == ["ops@example.com"]  # staff only, not Alice
    assert "EU" in message.subject and error in message.body
    events = AuditEvent.objects.filter(action=Action.CLIENT_REJECTED)
    assert [(e.detail["data_centre"], e.detail["error"]) for e in events] == [("eu", error)]


def test_while_rejected_only_the_probe_reaches_zoho_and_staff_hear_once(expired, sandbox, ops):
    reject_client(sandbox)
    mail.outbox.clear()
    for _ in range(5):
        with pytest.raises(tokens.PortalMisconfigured):
            tokens.get_access_token(grant_id=expired.pk)
    assert len(refreshes(sandbox, "eu")) == 1  # the first call learnt it; the rest refused fast

    with time_machine.travel(probe_time()):
        for _ in range(5):
            with pytest.raises(tokens.PortalMisconfigured):
                tokens.get_access_token(grant_id=expired.pk)
        assert len(refreshes(sandbox, "eu")) == 2  # one probe per due time
        later = episode()
        assert later.probe_failures == 1
        assert later.retry_after(now=timezone.now()) > 100  # backed off: two minutes now

    assert len(delivered()) == 1
    assert AuditEvent.objects.filter(action=Action.CLIENT_REJECTED).count() == 1
    assert ZohoGrant.objects.get(pk=expired.pk).status == ZohoGrant.Status.ACTIVE


def test_recovers_by_itself_at_the_first_probe_after_the_fix(expired, sandbox, ops):
    reject_client(sandbox)
    with pytest.raises(tokens.PortalMisconfigured):
        tokens.get_access_token(grant_id=expired.pk)
    sandbox.clear_faults()  # the operator fixed the secret
    with pytest.raises(tokens.PortalMisconfigured):  # no probe due yet: still paused
        tokens.get_access_token(grant_id=expired.pk)
    assert len(refreshes(sandbox, "eu")) == 1

    with time_machine.travel(probe_time()):
        issued = tokens.get_access_token(grant_id=expired.pk)
    assert issued.refreshed
    assert rejection_for(data_centre="eu") is None
    recovered = AuditEvent.objects.get(action=Action.CLIENT_RECOVERED)
    assert recovered.detail["data_centre"] == "eu" and recovered.detail["error"] == "invalid_client"
    # Normal refreshes resume at once.
    ZohoGrant.objects.filter(pk=expired.pk).update(access_token_expires_at=timezone.now())
    assert tokens.get_access_token(grant_id=expired.pk).refreshed


def test_api_answers_503_portal_misconfigured_but_still_serves_a_valid_token(
    client, expired, sandbox
):
    _, raw = create_service_key(name="desk app")
    reject_client(sandbox)

    refused = api_token(client, expired, raw)
    assert refused.status_code == 503
    assert refused.json()["code"] == "portal_misconfigured"
    assert "configuration problem" in refused.json()["title"]
    assert 0 < int(refused["Retry-After"]) <= 61

    # Valid for two more minutes: short of the default margin, yet still handed out.
    ZohoGrant.objects.filter(pk=expired.pk).update(
        access_token_expires_at=timezone.now() + timedelta(minutes=2)
    )
    served = api_token(client, expired, raw)
    assert served.status_code == 200 and served.json()["access_token"]
    assert len(refreshes(sandbox, "eu")) == 1


def test_other_data_centres_refresh_as_usual(portal, alice, sandbox, expired):
    assert portal.connect(US).status_code == 303
    us_grant = ZohoGrant.objects.get(user=alice, data_centre="us")
    ZohoGrant.objects.filter(pk=us_grant.pk).update(access_token_expires_at=timezone.now())
    reject_client(sandbox)
    with pytest.raises(tokens.PortalMisconfigured):
        tokens.get_access_token(grant_id=expired.pk)

    assert tokens.get_access_token(grant_id=us_grant.pk).refreshed
    assert len(refreshes(sandbox, dc="us")) == 1
    assert rejection_for(data_centre="eu") is not None  # us working says nothing about eu
    assert rejection_for(data_centre="us") is None


def test_owner_page_says_the_portal_is_at_fault_not_reconnect(portal, expired, sandbox):
    reject_client(sandbox)
    with pytest.raises(tokens.PortalMisconfigured):
        tokens.get_access_token(grant_id=expired.pk)

    page = portal.client.get(f"/connections/{expired.pk}/").content.decode()
    listing = portal.client.get("/connections/").content.decode()
    for html in (page, listing):
        assert "configuration problem" in html and "do not need to reconnect" in html
        assert "Needs reconnect" not in html


def test_health_checks_skip_the_rejected_data_centre_except_the_probe(expired, make_grant, sandbox):
    others = [make_grant(zoho_user_id=f"2000009{n}") for n in range(3)]
    reject_client(sandbox)
    with pytest.raises(tokens.PortalMisconfigured):
        tokens.get_access_token(grant_id=expired.pk)
    before = {grant.pk: row(grant.pk) for grant in others}
    desk_calls = len(sandbox.requests(endpoint="desk_organizations"))
    sweeps.make_all_due()

    summary = sweeps.check_due_grants()

    assert summary.skipped == 4 and summary.checked == 0
    assert len(refreshes(sandbox, "eu")) == 1
    assert len(sandbox.requests(endpoint="desk_organizations")) == desk_calls
    with time_machine.travel(probe_time()):
        sweeps.make_all_due()
        summary = sweeps.check_due_grants()
    assert summary.skipped == 4 and len(refreshes(sandbox, "eu")) == 2  # one probe, still rejected
    for grant in others:
        after = row(grant.pk)
        assert after["status"] == ZohoGrant.Status.ACTIVE and after["check_failure_count"] == 0
        assert after["refresh_token_encrypted"] == before[grant.pk]["refresh_token_encrypted"]
    assert not AuditEvent.objects.filter(action=Action.CHECK_FAILED).exists()


def test_revoke_meeting_a_rejected_client_marks_the_data_centre(connected, sandbox, ops):
    sandbox.add_fault("error_200", dc="eu", endpoint="revoke", error="invalid_client_secret")
    revoke_grant(grant_id=connected.pk)
    assert episode().error == "invalid_client_secret"


def test_staff_pages_show_a_banner_per_rejected_data_centre(client, expired, sandbox, ops):
    reject_client(sandbox)
    with pytest.raises(tokens.PortalMisconfigured):
        tokens.get_access_token(grant_id=expired.pk)
    client.force_login(ops)
    for url in ("/staff/overview/", "/staff/upkeep/"):
        html = client.get(url).content.decode()
        assert 'data-client-rejected="eu"' in html, url
        assert "invalid_client" in html and "Next probe" in html


def revokes(sandbox, dc="eu"):
    return [r for r in sandbox.requests(dc=dc) if r["endpoint"] == "revoke"]


def test_held_tokens_wait_while_the_client_is_rejected_and_go_once_it_is_back(
    portal, expired, sandbox, ops
):
    sandbox.add_fault("status", endpoint="revoke", status=503)
    assert portal.connect(EU).status_code == 303  # reconnect: the replaced token is held
    ZohoGrant.objects.filter(pk=expired.pk).update(access_token_expires_at=timezone.now())
    sandbox.clear_faults()
    sandbox.add_fault("error_200", dc="eu", endpoint="revoke", error="invalid_client")
    asked = len(revokes(sandbox))

    first = orphans.revoke_orphaned_tokens()
    assert (first.revoked, first.pending) == (0, 1)
    assert episode().error == "invalid_client"  # the data centre is paused, staff told
    for _ in range(3):
        assert orphans.revoke_orphaned_tokens().pending == 1  # kept, Zoho not asked
    assert len(revokes(sandbox)) == asked + 1
    assert OrphanedToken.objects.get().attempts == 2

    sandbox.clear_faults()  # the operator fixed the client; the next refresh probe sees it
    with time_machine.travel(probe_time()):
        assert tokens.get_access_token(grant_id=expired.pk).refreshed
        assert orphans.revoke_orphaned_tokens().revoked == 1
    assert not OrphanedToken.objects.exists()
    assert [g["active"] for g in sandbox.grants(zuid=EU)].count(True) == 1


@pytest.mark.parametrize(
    "error",
    ["invalid_client", "invalid_client_secret", "invalid_redirect_uri", "unauthorized_client"],
)
def test_connect_meeting_a_rejected_client_pauses_the_data_centre_and_blames_the_portal(
    portal, alice, sandbox, ops, error
):
    mail.outbox.clear()
    sandbox.add_fault("error_200", dc="eu", endpoint="token", error=error)

    assert portal.connect(EU)["Location"] == "/connections/failed/"

    page = portal.client.get("/connections/failed/").content.decode()
    assert "not something you did" in page and "our staff have been told" in page
    assert not ZohoGrant.objects.filter(user=alice).exists()
    assert episode().error == error  # refreshes in eu wait for the probe, as after a refresh
    assert [m.to for m in delivered()] == [["ops@example.com"]]  # staff, not Alice
    events = AuditEvent.objects.filter(action=Action.CLIENT_REJECTED)
    assert [(e.detail["data_centre"], e.detail["error"]) for e in events] == [("eu", error)]
    failed = AuditEvent.objects.get(action=Action.CONNECT_FAILED)
    assert failed.detail["reason"] == "misconfigured" and failed.detail["zoho_error"] == error


def test_a_connect_that_works_ends_the_rejection_episode(portal, alice, sandbox, ops):
    sandbox.add_fault("error_200", dc="eu", endpoint="token", error="invalid_client", count=1)
    assert portal.connect(EU)["Location"] == "/connections/failed/"
    assert episode().error == "invalid_client"

    assert portal.connect(EU).status_code == 303  # fixed: Zoho takes the client for a code

    assert rejection_for(data_centre="eu") is None
    assert AuditEvent.objects.get(action=Action.CLIENT_RECOVERED).detail["data_centre"] == "eu"
    assert ZohoGrant.objects.get(user=alice).status == ZohoGrant.Status.ACTIVE
