"""Grant events as Standard Webhooks: emitted by the real flows, delivered after commit, retried.

The grant flows run against the sandbox over real HTTP; deliveries go to a local receiver
thread (tests/webhook_receiver.py) through the jobs a worker would run (tests/jobs.py).
"""

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob
from standardwebhooks import Webhook

from accounts.models import AuditEvent
from portal import zoho
from portal.api.webhooks import delivery as deliveries
from portal.grants import early_warning, events, tokens
from portal.grants.representation import grant_detail_payload
from portal.models import WebhookDelivery, WebhookEvent, ZohoGrant
from tests.cast import EU
from tests.jobs import queued, run_jobs
from tests.mail_parts import delivered
from tests.staff_permissions import give
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def send_all():
    return run_jobs(events.DELIVER_WEBHOOK)


def verified(receiver, secret):
    """Every delivery the receiver got, verified as a Standard Webhooks receiver does."""
    return [Webhook(secret).verify(got.body, got.headers) for got in receiver.received]


def types(receiver, secret):
    return [payload["type"] for payload in verified(receiver, secret)]


def test_connect_emits_connected_with_the_grant_as_the_api_shows_it(
    sandbox, portal, alice, receiver, webhook
):
    endpoint, secret = webhook
    assert portal.connect(EU).status_code == 303
    assert receiver.received == []  # nothing is sent until a worker runs the job
    send_all()
    grant = ZohoGrant.objects.get(user=alice)
    [payload] = verified(receiver, secret)
    assert payload["type"] == "grant.connected"
    assert payload["data"] == grant_detail_payload(grant.pk)
    headers = receiver.received[0].headers
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == f"msg_{WebhookEvent.objects.get().pk.hex}"
    assert abs(int(headers["webhook-timestamp"]) - timezone.now().timestamp()) < 10
    assert receiver.received[0].path == "/hooks/desk?via=test"
    row = WebhookDelivery.objects.get()
    assert (row.state, row.attempts, row.last_response_code) == ("delivered", 1, 200)

    assert portal.connect(EU).status_code == 303
    send_all()
    assert types(receiver, secret) == ["grant.connected", "grant.reconnected"]


def test_only_subscribed_types_are_sent(sandbox, portal, receiver):
    from accounts.audit import AuditContext
    from portal.api.webhooks.endpoints import register_endpoint

    registered = register_endpoint(
        url=receiver.url(), events=["grant.revoked"], context=AuditContext()
    )
    portal.connect(EU)
    send_all()
    assert receiver.received == [] and WebhookEvent.objects.count() == 0
    grant = ZohoGrant.objects.get()
    from portal.grants.revocation import revoke_grant

    assert revoke_grant(grant_id=grant.pk) == "revoked"
    send_all()
    assert types(receiver, registered.secret) == ["grant.revoked"]


def test_zoho_rejecting_the_grant_emits_needs_reconnect(sandbox, connected, receiver, webhook):
    _, secret = webhook
    ZohoGrant.objects.filter(pk=connected.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    sandbox.revoke_user_grants(EU)
    with pytest.raises(tokens.GrantInactive):
        tokens.get_access_token(grant_id=connected.pk)
    send_all()
    [payload] = verified(receiver, secret)
    assert payload["type"] == "grant.needs_reconnect"
    assert payload["data"]["status"] == "needs_reconnect"
    assert payload["data"]["last_error"]


def test_trouble_then_a_working_refresh_emits_recovered(sandbox, connected, receiver, webhook):
    _, secret = webhook
    ZohoGrant.objects.filter(pk=connected.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    sandbox.add_fault("status", endpoint="refresh", status=503, count=1)
    with pytest.raises(tokens.GrantUnavailable):
        tokens.get_access_token(grant_id=connected.pk)
    send_all()
    assert receiver.received == []  # Upstream trouble alone is no event
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        assert tokens.get_access_token(grant_id=connected.pk).refreshed
    send_all()
    [payload] = verified(receiver, secret)
    assert payload["type"] == "grant.recovered" and payload["data"]["status"] == "active"


def test_a_warning_and_its_clearing_emit_events_and_the_owner_hears_of_the_recovery(
    sandbox, portal, alice, receiver, webhook, settings
):
    _, secret = webhook
    settings.UPKEEP_WARNING_TOKEN_COUNT = 1  # one refresh token held is "near the cap"
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    assert grant.warning == "token_cap"
    send_all()
    assert types(receiver, secret) == ["grant.connected", "grant.warning"]
    settings.UPKEEP_WARNING_TOKEN_COUNT = 15
    assert early_warning.evaluate_warning(grant_id=grant.pk, healthy=True) == ""
    send_all()
    assert types(receiver, secret)[-1] == "grant.recovered"
    subjects = [message.subject for message in delivered()]
    assert any("may be about to stop working" in subject for subject in subjects)
    assert any("is healthy again" in subject for subject in subjects)
    cleared = AuditEvent.objects.get(grant_id=grant.pk, action="grant.warning_cleared")
    assert cleared.detail["emailed"] is True


def test_revoking_through_the_api_emits_revoked(api, receiver, webhook, service_key):
    client, grant = api
    _, secret = webhook
    send_all()  # the connect's event
    answer = client.post(f"/grants/{grant.pk}/revoke")
    assert answer.status_code == 200
    send_all()
    payload = verified(receiver, secret)[-1]
    assert payload["type"] == "grant.revoked"
    assert payload["data"]["status"] == "revoked" and payload["data"]["revoked_at"]


def test_a_rolled_back_change_emits_nothing(connected, receiver, webhook):
    class Undone(Exception):
        pass

    with pytest.raises(Undone), transaction.atomic():
        tokens.mark_rejected(grant_id=connected.pk, error=zoho.ZohoRejected("invalid_code"))
        assert WebhookEvent.objects.count() == 1  # emitted inside the transaction…
        raise Undone
    assert WebhookEvent.objects.count() == 0  # …and gone with it
    assert queued(events.DELIVER_WEBHOOK) == []
    send_all()
    assert receiver.received == []
    assert ZohoGrant.objects.get(pk=connected.pk).status == "active"


def _emit(grant):
    with transaction.atomic():
        return events.emit(event_type=events.EventType.CONNECTED, grant=grant)


def test_a_failing_receiver_is_retried_with_back_off_and_the_same_id(make_grant, staff, settings):
    give(staff, "manage_webhooks")
    failing = Receiver(statuses=[500])
    try:
        from accounts.audit import AuditContext
        from portal.api.webhooks.endpoints import register_endpoint

        secret = register_endpoint(
            url=failing.url(), events=["grant.connected"], context=AuditContext()
        ).secret
        event = _emit(make_grant())
        waits = []
        for attempt in range(1, deliveries.MAX_ATTEMPTS + 1):
            [job] = queued(events.DELIVER_WEBHOOK)
            waits.append(
                (job.scheduled_at - timezone.now()).total_seconds() if job.scheduled_at else 0
            )
            outcome = deliveries.deliver(**job.args)
            ProcrastinateJob.objects.filter(pk=job.pk).update(status="succeeded")
            assert outcome == ("gave_up" if attempt == deliveries.MAX_ATTEMPTS else "retrying")
        assert queued(events.DELIVER_WEBHOOK) == []
        for expected, waited in zip(deliveries.RETRY_WAITS, waits[1:], strict=True):
            assert expected - 5 <= waited <= expected  # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
        assert sum(deliveries.RETRY_WAITS) >= 24 * 3600
        ids = {got.headers["webhook-id"] for got in failing.received}
        assert ids == {event.message_id} and len(failing.received) == deliveries.MAX_ATTEMPTS
        assert {got.body for got in failing.received} == {event.body.encode()}
        for got in failing.received:
            Webhook(secret).verify(got.body, got.headers)
        row = WebhookDelivery.objects.get()
        assert (row.state, row.attempts, row.last_response_code) == ("failed", 8, 500)
        [alert] = [m for m in delivered() if "given up" in m.subject]
        assert alert.to == [staff.email] and event.message_id in alert.body
    finally:
        failing.close()


def test_a_receiver_that_recovers_gets_the_event_once_more_with_the_same_id(make_grant):
    flaky = Receiver(statuses=[503, 200])
    try:
        from accounts.audit import AuditContext
        from portal.api.webhooks.endpoints import register_endpoint

        register_endpoint(url=flaky.url(), events=["grant.connected"], context=AuditContext())
        event = _emit(make_grant())
        send_all()
        assert [got.headers["webhook-id"] for got in flaky.received] == [event.message_id] * 2
        row = WebhookDelivery.objects.get()
        assert (row.state, row.attempts, row.last_response_code) == ("delivered", 2, 200)
    finally:
        flaky.close()


def test_410_gone_disables_the_endpoint(make_grant):
    gone = Receiver(statuses=[410])
    try:
        from accounts.audit import AuditContext
        from portal.api.webhooks.endpoints import register_endpoint

        endpoint = register_endpoint(
            url=gone.url(), events=["grant.connected"], context=AuditContext()
        ).endpoint
        _emit(make_grant())
        send_all()
        endpoint.refresh_from_db()
        assert endpoint.disabled_at is not None and len(gone.received) == 1
        assert WebhookDelivery.objects.get().state == "failed"
        assert AuditEvent.objects.filter(action="webhook.disabled").count() == 1
        assert _emit(make_grant(zoho_user_id="777")) is None  # nothing more is queued there
    finally:
        gone.close()


def test_events_carry_the_snapshot_taken_at_emission(make_grant, receiver, webhook):
    _, secret = webhook
    grant = make_grant()
    _emit(grant)
    ZohoGrant.objects.filter(pk=grant.pk).update(zoho_email="changed@example.com")
    send_all()
    [payload] = verified(receiver, secret)
    assert payload["data"]["zoho_email"] != "changed@example.com"
    assert json.loads(WebhookEvent.objects.get().body) == payload


def test_finished_events_are_purged_after_the_retention_period(make_grant, receiver, webhook):
    from portal.api.webhooks import retention
    from portal.tasks import purge_webhook_events

    delivered_event = _emit(make_grant())
    send_all()
    waiting_event = _emit(make_grant(zoho_user_id="778"))  # its delivery has not run yet
    assert retention.purge_old_events(now=timezone.now()) == 0  # too recent
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        purge_webhook_events(timestamp=0)
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [waiting_event.pk]
    assert not WebhookDelivery.objects.filter(event_id=delivered_event.pk).exists()
