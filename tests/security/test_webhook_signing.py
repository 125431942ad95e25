"""Issue 16 item 4: grant events as Standard Webhooks, their signatures (WH-01, WH-02).

Signatures are checked by an independent verifier (the ``standardwebhooks`` package's
``Webhook.verify``, which receivers use, and the specification's published test vector
recomputed here with ``hmac``); the secret is followed everywhere it could leak.
"""

import base64
import hashlib
import hmac
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from accounts.audit import AuditContext
from accounts.models import AuditEvent
from portal.api.webhooks import delivery, signing
from portal.api.webhooks.endpoints import register_endpoint
from portal.grants import events
from portal.models import WebhookDelivery, WebhookEndpoint
from tests.jobs import run_jobs
from tests.leaks import assert_no_leak, database_text
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def emit(grant):
    with transaction.atomic():
        return events.emit(event_type=events.EventType.CONNECTED, grant=grant)


def test_WH_01_the_signature_follows_the_specification_vector():
    """Standard Webhooks' published vector, recomputed by hand and by the portal's signer."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, stamp, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{stamp}.{body}".encode(), hashlib.sha256).digest()
    assert f"v1,{base64.b64encode(mac).decode()}" == expected
    at = datetime.fromtimestamp(stamp, tz=UTC)
    made = signing.headers(secrets=[secret], message_id=msg_id, body=body, at=at)
    assert made == {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": expected,
        "content-type": "application/json",
    }


def test_WH_01_deliveries_verify_and_forgeries_do_not(make_grant, receiver, webhook):
    _, secret = webhook
    emit(make_grant())
    run_jobs(events.DELIVER_WEBHOOK)
    [got] = receiver.received
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "grant.connected"
    other = signing.new_secret()
    forgeries = [
        (got.body.replace(b"active", b"revoked"), got.headers),  # tampered body
        (got.body, {**got.headers, "webhook-id": "msg_other"}),  # another id
        (got.body, {**got.headers, "webhook-signature": "v1," + "A" * 44}),
        (got.body, {k: v for k, v in got.headers.items() if k != "webhook-signature"}),
    ]
    for body, headers in forgeries:
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(got.body, got.headers)  # signed with another endpoint's secret


def test_WH_01_the_secret_is_shown_once_stored_encrypted_and_never_logged(
    client, service_key, staff, caplog, make_grant
):
    import json

    from tests.api_calls import auth
    from tests.staff_permissions import client_for, give

    caplog.set_level(logging.DEBUG)
    receiver = Receiver()
    try:
        answer = client.post(
            "/api/v1/webhooks",
            data=json.dumps({"url": receiver.url(), "events": ["grant.connected"]}),
            content_type="application/json",
            **auth(service_key),
        )
        secret = answer.json()["secret"]
        emit(make_grant())
        run_jobs(events.DELIVER_WEBHOOK)
        assert len(receiver.received) == 1
        give(staff, "manage_webhooks")
        endpoint = WebhookEndpoint.objects.get()
        pages = [
            client_for(staff).get(url).content.decode()
            for url in ("/staff/webhooks/", f"/staff/webhooks/{endpoint.pk}/")
        ]
        listed = client.get("/api/v1/webhooks", **auth(service_key)).content.decode()
        audit = json.dumps(list(AuditEvent.objects.values("detail", "actor_repr")))
        raw = base64.b64decode(secret[6:])
        assert raw.hex() not in database_text()
        assert_no_leak([secret, secret[6:]], caplog.text, listed, audit, *pages)
        assert secret not in repr(endpoint) and secret not in str(endpoint)
    finally:
        receiver.close()


def test_WH_02_a_delivery_replayed_after_five_minutes_is_rejected(make_grant, receiver, webhook):
    _, secret = webhook
    emit(make_grant())
    run_jobs(events.DELIVER_WEBHOOK)
    [got] = receiver.received
    Webhook(secret).verify(got.body, got.headers)
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        with pytest.raises(WebhookVerificationError, match="too old"):
            Webhook(secret).verify(got.body, got.headers)
    with time_machine.travel(timezone.now() - timedelta(minutes=6)):
        with pytest.raises(WebhookVerificationError, match="too new"):
            Webhook(secret).verify(got.body, got.headers)


def test_WH_02_a_redelivery_keeps_its_id_and_is_signed_afresh(make_grant, receiver, webhook, staff):
    _, secret = webhook
    event = emit(make_grant())
    run_jobs(events.DELIVER_WEBHOOK)
    later = timezone.now() + timedelta(hours=3)
    with time_machine.travel(later):
        row = WebhookDelivery.objects.get()
        assert delivery.redeliver(delivery_id=row.pk, context=AuditContext(actor=staff))
        run_jobs(events.DELIVER_WEBHOOK)
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == event.message_id
        assert first.body == second.body
        assert (
            int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"])
            >= 3 * 3600 - 5
        )
        Webhook(secret).verify(second.body, second.headers)  # current: the receiver accepts it


def test_WH_01_key_rotation_re_encrypts_the_signing_secrets(settings, make_grant, receiver):
    """``rotate_token_keys`` covers webhook secrets: after it, the old key can be retired and
    deliveries are still signed with the same secret."""
    from io import StringIO

    from django.core.management import call_command

    from portal import crypto

    registered = register_endpoint(
        url=receiver.url(), events=["grant.connected"], context=AuditContext()
    )
    old_keys = list(settings.TOKEN_ENCRYPTION_KEYS)
    settings.TOKEN_ENCRYPTION_KEYS = [crypto.generate_key(), *old_keys]
    out = StringIO()
    call_command("rotate_token_keys", stdout=out, stderr=StringIO())
    assert "webhook secrets: rotated: 1" in out.getvalue()
    settings.TOKEN_ENCRYPTION_KEYS = settings.TOKEN_ENCRYPTION_KEYS[:1]  # old key retired
    emit(make_grant())
    run_jobs(events.DELIVER_WEBHOOK)
    [got] = receiver.received
    Webhook(registered.secret).verify(got.body, got.headers)


def test_WH_01_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    client, service_key, make_grant, receiver, staff, caplog
):
    import json

    from tests.api_calls import auth

    caplog.set_level(logging.DEBUG)
    created = client.post(
        "/api/v1/webhooks",
        data=json.dumps({"url": receiver.url(), "events": ["grant.connected"]}),
        content_type="application/json",
        **auth(service_key),
    ).json()
    answer = client.post(f"/api/v1/webhooks/{created['id']}/secret", **auth(service_key))
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    old, new = created["secret"], answer.json()["secret"]
    assert new != old and answer.json()["previous_secret_until"]
    emit(make_grant())
    run_jobs(events.DELIVER_WEBHOOK)
    [got] = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(got.body, got.headers)
    Webhook(old).verify(got.body, got.headers)  # receivers still on the old secret
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        row = WebhookDelivery.objects.get()
        assert delivery.redeliver(delivery_id=row.pk, context=AuditContext(actor=staff))
        run_jobs(events.DELIVER_WEBHOOK)
        later = receiver.received[1]
        Webhook(new).verify(later.body, later.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(later.body, later.headers)  # the overlap is over
    rotated = AuditEvent.objects.get(action="webhook.secret_rotated")
    assert rotated.actor_repr.startswith("service key desk app")
    audit = json.dumps(list(AuditEvent.objects.values("detail")))
    assert_no_leak([old, old[6:], new, new[6:]], caplog.text, audit)
    missing = client.post(f"/api/v1/webhooks/{uuid.uuid4()}/secret", **auth(service_key))
    assert missing.status_code == 404
