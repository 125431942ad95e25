"""Early warning against the sandbox over real HTTP: repeated transient failures within a day,
and Zoho's refresh-token cap approached by the grants the portal minted for one Zoho user."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuditEvent
from portal import checks
from portal.crypto import decrypt_token
from portal.grants import early_warning, tokens
from portal.grants.revocation import revoke_grant
from portal.grants.status import grant_row
from portal.models import ZohoGrant
from portal.upkeep import sweeps
from tests.cast import EU
from tests.leaks import assert_no_leak
from tests.mail_parts import delivered, html_part
from tests.portal_browser import PortalBrowser

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = "99000001"  # the sandbox's uk user with hostile names (sandbox/README.md)


def events(grant, action):
    return AuditEvent.objects.filter(grant_id=grant.pk, action=action)


def warning_of(grant):
    return ZohoGrant.objects.values_list("warning", flat=True).get(pk=grant.pk)


def secrets_of(grant):
    grant = ZohoGrant.objects.get(pk=grant.pk)
    return [
        decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk)),
        decrypt_token(grant.access_token_encrypted, context=str(grant.pk)),
    ]


def mail_texts():
    return [part for m in delivered() for part in (m.subject, m.body, html_part(m))]


def test_three_transient_failures_in_a_day_warn_once_and_recovery_clears(
    portal, sandbox, connected
):
    sandbox.add_fault("status", endpoint="desk_organizations", status=503)
    start = timezone.now()
    for minutes in (0, 10):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            assert sweeps.check_grant(grant_id=connected.pk) == "trouble"
    assert warning_of(connected) == "" and delivered() == []
    with time_machine.travel(start + timedelta(minutes=30)):
        sweeps.check_grant(grant_id=connected.pk)
    connected.refresh_from_db()
    assert connected.status == "active"  # still usable: a warning, not a status
    assert connected.warning == "repeated_failures" and connected.warning_since is not None
    raised = events(connected, "grant.warning_raised").get()
    assert raised.detail == {
        "warning": "repeated_failures",
        "emailed": True,
        "failures": 3,
        "threshold": 3,
    }
    [message] = delivered()
    assert message.to == ["alice@example.com"] and "warning" in message.subject.lower()
    assert "Zoho failed 3 times for this connection in the last 24 hours" in message.body
    html = html_part(message)
    assert f"/connections/{connected.pk}/" in html
    body = portal.client.get("/connections/").content.decode()
    assert "Warning: repeated failures" in body and 'class="status status-warning"' in body
    assert (
        "Warning: repeated failures"
        in portal.client.get(f"/connections/{connected.pk}/").content.decode()
    )

    with time_machine.travel(start + timedelta(minutes=70)):
        sweeps.check_grant(grant_id=connected.pk)  # a fourth failure
    assert len(delivered()) == 1 and events(connected, "grant.warning_raised").count() == 1

    sandbox.clear_faults()
    with time_machine.travel(start + timedelta(hours=2)):
        assert sweeps.check_grant(grant_id=connected.pk) == "healthy"
    assert warning_of(connected) == "repeated_failures"  # the failures are still recent
    with time_machine.travel(start + timedelta(hours=26)):
        assert sweeps.check_grant(grant_id=connected.pk) == "healthy"
        body = portal.client.get("/connections/").content.decode()
    assert warning_of(connected) == ""
    assert "Warning: repeated failures" not in body
    assert list(events(connected, "grant.warning_cleared").values_list("detail", flat=True)) == [
        {"warning": "repeated_failures", "emailed": True}
    ]
    warned, recovered = delivered()  # the owner hears that it went away too
    assert recovered.to == ["alice@example.com"] and "healthy again" in recovered.subject
    assert "repeated failures" in recovered.body.lower()
    assert_no_leak(secrets_of(connected), *mail_texts(), body)


def test_a_check_whose_refresh_failed_counts_once(sandbox, connected):
    ZohoGrant.objects.filter(pk=connected.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    sandbox.add_fault("status", endpoint="refresh", status=503)
    start = timezone.now()
    sweeps.check_grant(grant_id=connected.pk)
    # The token service recorded the failed refresh, the check its own failure: one sign.
    assert events(connected, "grant.refresh_failed").count() == 1
    assert events(connected, "grant.check_failed").get().detail["early_warning"] is False
    assert early_warning.transient_failures(grant_id=connected.pk, now=timezone.now()) == 1
    for minutes in (10, 30):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            sweeps.check_grant(grant_id=connected.pk)
    connected.refresh_from_db()
    assert connected.status == "trouble" and connected.warning == "repeated_failures"
    assert len(delivered()) == 1


def test_refresh_failures_of_api_callers_raise_the_warning_and_a_refresh_clears_it(
    sandbox, connected
):
    start = timezone.now()
    for hours in (2, 4, 6):  # fails, then works again: three separate troubles in a day
        with time_machine.travel(start + timedelta(hours=hours)):
            sandbox.add_fault("status", endpoint="refresh", status=503, count=1)
            with pytest.raises(tokens.GrantUnavailable):
                tokens.get_access_token(grant_id=connected.pk)
        with time_machine.travel(start + timedelta(hours=hours, minutes=10)):
            assert tokens.get_access_token(grant_id=connected.pk).refreshed
    assert events(connected, "grant.refresh_failed").count() == 3
    assert warning_of(connected) == "repeated_failures" and len(delivered()) == 1
    with time_machine.travel(start + timedelta(hours=30)):
        assert tokens.get_access_token(grant_id=connected.pk).refreshed
    assert warning_of(connected) == ""
    assert events(connected, "grant.warning_cleared").count() == 1


def test_owner_without_alert_emails_sees_the_warning_but_gets_no_email(sandbox, connected, alice):
    alice.has_alert_emails = False
    alice.save()
    sandbox.add_fault("status", endpoint="desk_myinfo", status=503)
    for _ in range(3):
        sweeps.check_grant(grant_id=connected.pk)
    assert warning_of(connected) == "repeated_failures" and delivered() == []
    assert events(connected, "grant.warning_raised").get().detail["emailed"] is False


def test_token_cap_warns_every_grant_of_the_zoho_user_and_revoking_clears(
    client, sandbox, make_user, settings
):
    settings.UPKEEP_WARNING_TOKEN_COUNT = 3
    owners = [make_user(f"owner{n}@example.com") for n in range(3)]
    for owner in owners[:2]:
        client.force_login(owner)
        assert PortalBrowser(client, sandbox).connect(EU).status_code == 303
    assert set(ZohoGrant.objects.values_list("warning", flat=True)) == {""}
    client.force_login(owners[2])
    assert PortalBrowser(client, sandbox).connect(EU).status_code == 303  # the third token
    grants = list(ZohoGrant.objects.order_by("connected_at"))
    assert [g.warning for g in grants] == ["token_cap"] * 3
    assert sorted(m.to[0] for m in delivered()) == [o.email for o in owners]
    oldest_mail = next(m for m in delivered() if m.to == [grants[0].user.email])
    assert "This Zoho account has 3 connections" in oldest_mail.body
    assert "This connection is the oldest of them" in oldest_mail.body
    newest_mail = next(m for m in delivered() if m.to == [grants[2].user.email])
    assert "this one is not the oldest" in newest_mail.body
    body = client.get("/connections/").content.decode()
    assert "Warning: Zoho&#x27;s connection limit is near" in body
    assert "drops the oldest one first" in body

    assert PortalBrowser(client, sandbox).connect(EU).status_code == 303  # reconnect: same count
    assert len(delivered()) == 3
    revoke_grant(grant_id=grants[0].pk, reason="test")
    assert [warning_of(g) for g in grants] == ["", "", ""]
    assert AuditEvent.objects.filter(action="grant.warning_cleared").count() == 3
    assert "Warning:" not in client.get("/connections/").content.decode()
    # The two grants still working recovered (their owners are told); the revoked one did not.
    recovered = delivered()[3:]
    assert sorted(m.to[0] for m in recovered) == [o.email for o in owners[1:]]
    assert all("healthy again" in m.subject for m in recovered)


def test_a_replaced_token_zoho_did_not_revoke_still_counts(portal, sandbox, alice, settings):
    settings.UPKEEP_WARNING_TOKEN_COUNT = 2
    assert portal.connect(EU).status_code == 303
    sandbox.add_fault("status", endpoint="revoke", status=503)
    assert portal.connect(EU).status_code == 303  # reconnect; the old token stays at Zoho
    grant = ZohoGrant.objects.get(user=alice)
    assert events(grant, "grant.superseded_token_revoke_failed").count() == 1
    assert early_warning.tokens_held(data_centre="eu", zoho_user_id=EU) == 2
    assert grant.warning == "token_cap" and len(delivered()) == 1


def test_hostile_names_are_escaped_in_the_warning_page_and_email(portal, sandbox, alice):
    assert portal.connect(HOSTILE).status_code == 303
    grant = ZohoGrant.objects.get(user=alice)
    sandbox.add_fault("status", endpoint="desk_organizations", status=503)
    for _ in range(3):
        sweeps.check_grant(grant_id=grant.pk)
    assert warning_of(grant) == "repeated_failures"
    for url in ("/connections/", f"/connections/{grant.pk}/"):
        body = portal.client.get(url).content.decode()
        assert "Warning: repeated failures" in body
        assert "<script>alert('org')</script>" not in body and "<img src=x" not in body
    html = html_part(delivered()[0])
    assert "&lt;script&gt;alert(" in html
    assert "<script>" not in html and "<img src=x" not in html


def test_a_warning_is_shown_only_on_usable_grants(make_grant):
    grant = make_grant(warning="token_cap", warning_since=timezone.now())
    row = grant_row(grant, now=timezone.now())
    assert row.warning_key == "token_cap" and "Since " in row.warning_text
    grant.status = "needs_reconnect"
    assert grant_row(grant, now=timezone.now()).warning_key == ""


def test_unreachable_warning_thresholds_are_refused_at_start_up(settings):
    assert checks.check_warning_thresholds() == []
    settings.UPKEEP_WARNING_TOKEN_COUNT = 21
    settings.UPKEEP_WARNING_FAILURES = 0
    ids = [message.id for message in checks.check_warning_thresholds()]
    assert ids == ["portal.E010", "portal.E011"]
