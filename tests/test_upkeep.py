"""Background upkeep against the sandbox over real HTTP: health checks, alerts, retried
revocations, the secret purge, and two workers sweeping at once."""

from datetime import datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from portal.grants import dc_slots, owner_alerts
from portal.grants.revocation import revoke_grant
from portal.models import ZohoGrant
from portal.upkeep import sweeps
from tests.cast import EU
from tests.mail_parts import delivered, html_part
from tests.portal_browser import PortalBrowser
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True)

MULTI_DC_USERS = ["10000001", "20000001", "30000001", "40000001", "50000001", "90000001"]


def requests_to(sandbox, endpoint, zuid=None, after=0):
    return [r for r in sandbox.requests(zuid=zuid, after=after) if r["endpoint"] == endpoint]


def last_request(sandbox):
    """The id of the newest recorded request (so later ones can be told apart)."""
    newest = sandbox.requests(limit=1)
    return newest[-1]["id"] if newest else 0


def actions(grant):
    return list(
        AuditEvent.objects.filter(grant_id=grant.pk).order_by("id").values_list("action", flat=True)
    )


def test_grant_revoked_in_zoho_needs_reconnect_after_a_check_and_owner_gets_one_email(
    portal, sandbox, connected
):
    sandbox.revoke_user_grants(EU)
    summary = sweeps.check_due_grants()
    connected.refresh_from_db()
    assert connected.status == "needs_reconnect" and connected.last_error == "invalid_code"
    assert (summary.checked, summary.needs_reconnect) == (1, 1)
    assert actions(connected)[-2:] == ["grant.check_failed", "grant.owner_alerted"]
    [message] = delivered()
    assert message.to == ["alice@example.com"] and "Reconnect" in message.subject
    link = f"http://127.0.0.1:8000/connections/{connected.pk}/"
    assert link in message.body
    html = html_part(message)
    assert f'href="{link}"' in html and "Reconnect</a>" in html
    # Nothing more to say: not checked again, not announced again.
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert sweeps.check_due_grants().checked == 0
        assert owner_alerts.send_reconnect_alerts() == 0
    assert len(delivered()) == 1


def test_owner_is_told_again_only_after_recovery_and_a_new_failure(portal, sandbox, connected):
    sandbox.revoke_user_grants(EU)
    sweeps.check_due_grants()
    assert len(delivered()) == 1
    assert portal.connect(EU).status_code == 303  # reconnect: same grant, Active again
    connected.refresh_from_db()
    assert connected.status == "active"
    sandbox.revoke_user_grants(EU)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        sweeps.check_due_grants()
    assert len(delivered()) == 2


def test_needs_reconnect_reached_elsewhere_is_announced_by_the_alert_sweep(make_grant, alice):
    grant = make_grant()
    grant.status, grant.last_error = "needs_reconnect", "invalid_code"
    grant.save()
    assert owner_alerts.send_reconnect_alerts() == 1
    assert owner_alerts.send_reconnect_alerts() == 0
    [message] = delivered()
    assert "revoked in Zoho" in message.body


def test_owner_who_turned_alerts_off_gets_no_email_but_the_decision_is_audited(make_grant, alice):
    alice.has_alert_emails = False
    alice.save()
    grant = make_grant()
    grant.status = "needs_reconnect"
    grant.save()
    assert owner_alerts.send_reconnect_alerts() == 0
    assert delivered() == []
    event = AuditEvent.objects.get(action="grant.owner_alerted")
    assert event.detail == {"emailed": False}
    assert owner_alerts.send_reconnect_alerts() == 0


def test_healthy_check_reuses_the_fresh_token_and_refreshes_organization_names(sandbox, connected):
    ZohoGrant.objects.filter(pk=connected.pk).update(organizations=[{"id": "1", "name": "Old"}])
    mark, before = last_request(sandbox), timezone.now()
    summary = sweeps.check_due_grants()
    connected.refresh_from_db()
    assert (summary.checked, summary.healthy) == (1, 1)
    assert connected.status == "active"
    assert connected.organizations == [{"id": "70000001", "name": "Example Support"}]
    assert requests_to(sandbox, "refresh", after=mark) == []  # the check made no refresh
    assert len(requests_to(sandbox, "desk_organizations", after=mark)) == 1
    assert actions(connected)[-1] == "grant.checked"
    due_in = connected.next_check_at - before
    assert timedelta(hours=21.5) < due_in < timedelta(hours=26.5)  # 24 h, jittered ±10 %
    assert sweeps.check_due_grants().checked == 0


def test_expired_token_is_refreshed_once_by_the_check(sandbox, connected):
    ZohoGrant.objects.filter(pk=connected.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert sweeps.check_due_grants().healthy == 1
    assert len(requests_to(sandbox, "refresh")) == 1


def test_transient_desk_fault_keeps_status_and_retries_then_recovery_is_audited(sandbox, connected):
    sandbox.add_fault("status", endpoint="desk_organizations", status=503)
    summary = sweeps.check_due_grants()
    connected.refresh_from_db()
    assert (summary.checked, summary.trouble) == (1, 1)
    assert connected.status == "active" and connected.check_failure_count == 1
    assert actions(connected)[-1] == "grant.check_failed"
    retry_in = connected.next_check_at - timezone.now()
    assert timedelta(minutes=3) < retry_in < timedelta(minutes=7)
    assert sweeps.check_due_grants().checked == 0  # not before its retry time
    sandbox.clear_faults()
    with time_machine.travel(timezone.now() + timedelta(minutes=7)):
        assert sweeps.check_due_grants().healthy == 1
    assert actions(connected)[-2:] == ["grant.checked", "grant.recovered"]
    assert delivered() == []


def test_transient_refresh_fault_is_trouble_not_needs_reconnect(sandbox, connected):
    ZohoGrant.objects.filter(pk=connected.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    sandbox.add_fault("status", endpoint="refresh", status=503)
    assert sweeps.check_due_grants().trouble == 1
    connected.refresh_from_db()
    assert connected.status == "trouble" and connected.next_check_at > timezone.now()
    assert delivered() == []


def test_two_workers_sweeping_at_once_check_each_grant_once(portal, sandbox, alice, settings):
    settings.ZOHO_HTTP_TIMEOUT = 10.0  # many requests at once on a busy machine
    for zuid in MULTI_DC_USERS:
        assert portal.connect(zuid).status_code == 303
    assert ZohoGrant.objects.filter(user=alice).count() == len(MULTI_DC_USERS)
    sandbox.add_fault("latency", endpoint="desk_organizations", seconds=0.3)
    mark = last_request(sandbox)
    summaries, errors = race(2 * [lambda: sweeps.check_due_grants(batch_size=1)])
    assert errors == []
    assert sorted(s.checked for s in summaries) != [0, len(MULTI_DC_USERS)]  # work was split
    assert sum(s.healthy for s in summaries) == len(MULTI_DC_USERS)
    for zuid in MULTI_DC_USERS:
        assert len(requests_to(sandbox, "desk_organizations", zuid=zuid, after=mark)) == 1, zuid
    assert AuditEvent.objects.filter(action="grant.checked").count() == len(MULTI_DC_USERS)


def test_revoking_grant_is_retried_with_backoff_and_revoked_when_zoho_recovers(sandbox, connected):
    sandbox.add_fault("status", endpoint="revoke", status=503)
    revoke_grant(grant_id=connected.pk, reason="test")
    assert sweeps.finish_pending_revocations() == {"revoked": 0, "pending": 1, "abandoned": 0}
    connected.refresh_from_db()
    assert connected.status == "revoking"
    assert connected.retry_at > timezone.now() + timedelta(minutes=1)
    assert sweeps.finish_pending_revocations()["pending"] == 0  # backing off
    assert len(requests_to(sandbox, "revoke")) == 2  # the request and one retry
    sandbox.clear_faults()
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        assert sweeps.finish_pending_revocations()["revoked"] == 1
    connected.refresh_from_db()
    assert connected.status == "revoked"
    assert connected.refresh_token_encrypted is None and connected.access_token_encrypted is None
    assert not [g for g in sandbox.grants(zuid=EU) if g["active"]]
    assert actions(connected)[-1] == "grant.revoked"


def test_revocation_zoho_never_confirms_is_finished_locally_and_people_are_told(
    sandbox, connected, staff
):
    sandbox.add_fault("status", endpoint="revoke", status=503)
    revoke_grant(grant_id=connected.pk, reason="test")
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert sweeps.finish_pending_revocations()["pending"] == 1
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert sweeps.finish_pending_revocations()["abandoned"] == 1
    connected.refresh_from_db()
    assert connected.status == "revoked" and connected.refresh_token_encrypted is None
    event = AuditEvent.objects.filter(grant_id=connected.pk, action="grant.revoked").get()
    assert event.detail["zoho"] == "never_confirmed" and event.outcome == "failure"
    [message] = delivered()
    assert sorted(message.to) == ["alice@example.com", "staff@example.com"]
    assert "never confirmed" in message.body
    assert sweeps.finish_pending_revocations() == {"revoked": 0, "pending": 0, "abandoned": 0}


def test_purge_wipes_only_old_needs_reconnect_secrets(sandbox, make_grant, bob):
    now = timezone.now()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    stale = make_grant(status="needs_reconnect", status_changed_at=old)
    fresh = make_grant(status="needs_reconnect", status_changed_at=recent, user=bob)
    active = make_grant(status="active", status_changed_at=old, zoho_user_id="20000002")
    trouble = make_grant(status="trouble", status_changed_at=old, zoho_user_id="20000003")
    assert sweeps.purge_stale_secrets() == 1
    stale.refresh_from_db()
    assert stale.refresh_token_encrypted is None and stale.access_token_encrypted is None
    assert stale.status == "needs_reconnect" and stale.zoho_email == "agent@example.eu"
    assert stale.organizations == [{"id": "70000001", "name": "Example Support"}]
    for kept in (fresh, active, trouble):
        kept.refresh_from_db()
        assert kept.refresh_token_encrypted is not None, kept.status
    assert list(AuditEvent.objects.values_list("action", "grant_id")) == [
        ("grant.secrets_purged", stale.pk)
    ]
    assert sweeps.purge_stale_secrets() == 0


def test_status_changes_are_stamped(make_grant):
    start = timezone.now() - timedelta(days=5)
    grant = make_grant(status_changed_at=start)
    assert grant.status_changed_at == start
    grant = ZohoGrant.objects.get(pk=grant.pk)
    grant.last_error = "timeout"
    grant.save(update_fields=["last_error"])
    assert ZohoGrant.objects.get(pk=grant.pk).status_changed_at == start
    grant.status = "trouble"
    grant.save(update_fields=["status"])
    changed_at = ZohoGrant.objects.get(pk=grant.pk).status_changed_at
    assert changed_at is not None and changed_at > start


def test_checks_against_one_data_centre_respect_the_concurrency_limit(
    client, sandbox, make_user, settings
):
    settings.ZOHO_HTTP_TIMEOUT = 10.0  # many requests at once on a busy machine
    for n in range(4):
        client.force_login(make_user(f"owner{n}@example.com"))
        assert PortalBrowser(client, sandbox).connect(EU).status_code == 303
    settings.UPKEEP_CONCURRENCY_PER_DC = 1
    sandbox.add_fault("latency", endpoint="desk_organizations", seconds=0.4)
    mark = last_request(sandbox)
    summaries, errors = race(3 * [lambda: sweeps.check_due_grants(batch_size=1)])
    assert errors == []
    assert sum(s.healthy for s in summaries) == 4
    arrivals = sorted(
        datetime.fromisoformat(r["at"])
        for r in requests_to(sandbox, "desk_organizations", after=mark)
    )
    assert len(arrivals) == 4
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(arrivals, arrivals[1:])]
    assert min(gaps) >= 0.35, gaps  # one check at a time: each waited for the previous answer


def test_a_grant_whose_data_centre_stays_busy_is_handed_back(sandbox, connected, settings):
    settings.UPKEEP_CONCURRENCY_PER_DC = 1
    key = dc_slots.dc_slot_key("eu")
    with connection.cursor() as cursor:  # another worker holds the only EU slot
        cursor.execute("SELECT pg_advisory_lock(%s::int4, 0)", [key])
    mark = last_request(sandbox)
    with mock.patch.object(sweeps, "SLOT_WAIT", timedelta(seconds=0.5)):
        # another connection than the one holding the slot: a session lock is re-entrant
        summaries, errors = race([sweeps.check_due_grants], timeout=30)
    assert errors == []
    assert summaries[0].checked == 0
    assert requests_to(sandbox, "desk_organizations", after=mark) == []
    connected.refresh_from_db()
    assert connected.next_check_at <= timezone.now() + timedelta(seconds=1)  # not left leased
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s::int4, 0)", [key])
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        assert sweeps.check_due_grants().healthy == 1
