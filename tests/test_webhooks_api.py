"""The webhook endpoints of the API (register, list, delete) and the staff pages over them."""

import base64
import json
import logging

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from portal.grants import events
from portal.models import WebhookDelivery, WebhookEndpoint
from tests.api_calls import auth
from tests.jobs import queued, run_jobs
from tests.leaks import assert_no_leak
from tests.staff_permissions import assert_permission_matrix, client_for, give
from tests.webhook_receiver import Receiver

ALL = [str(kind) for kind in events.EventType]


def register(client, raw_key, body):
    return client.post(
        "/api/v1/webhooks", data=json.dumps(body), content_type="application/json", **auth(raw_key)
    )


@pytest.mark.django_db
def test_register_list_and_delete(client, service_key, caplog):
    caplog.set_level(logging.DEBUG)
    answer = register(client, service_key, {"url": "http://127.0.0.1:9/h", "events": ALL})
    assert answer.status_code == 201 and answer["Cache-Control"] == "no-store"
    created = answer.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert set(created) == {
        "id",
        "url",
        "events",
        "created_at",
        "disabled_at",
        "previous_secret_until",
        "secret",
    }
    listed = client.get("/api/v1/webhooks", **auth(service_key))
    assert listed["Cache-Control"] == "no-store"
    assert listed.json() == {"webhooks": [{k: v for k, v in created.items() if k != "secret"}]}
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.created_by_repr.startswith("service key desk app")
    made = AuditEvent.objects.get(action="webhook.created")
    assert made.detail == {"endpoint": created["id"], "host": "127.0.0.1", "events": ALL}
    assert made.actor_repr.startswith("service key desk app")
    gone = client.delete(f"/api/v1/webhooks/{created['id']}", **auth(service_key))
    assert gone.status_code == 204 and gone["Cache-Control"] == "no-store"
    assert WebhookEndpoint.objects.count() == 0
    assert AuditEvent.objects.filter(action="webhook.deleted").count() == 1
    again = client.delete(f"/api/v1/webhooks/{created['id']}", **auth(service_key))
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    assert_no_leak([secret, secret[6:]], caplog.text, listed.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/h"},
        {"url": "http://127.0.0.1:9/h", "events": []},
        {"url": "http://127.0.0.1:9/h", "events": ["grant.exploded"]},
        {"url": "http://127.0.0.1:9/h", "events": ["grant.revoked", "grant.revoked"]},
        {"url": 7, "events": ["grant.revoked"]},
        {"url": "ftp://127.0.0.1/h", "events": ["grant.revoked"]},
        {"url": "http://user:pw@127.0.0.1/h", "events": ["grant.revoked"]},
        {"url": "http://127.0.0.1:99999/h", "events": ["grant.revoked"]},
        {"url": "http://\u0000/h", "events": ["grant.revoked"]},
        [],
    ],
)
def test_bad_registrations_are_400_problems(client, service_key, body):
    answer = register(client, service_key, body)
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] in ("bad_request", "webhook_url_refused")
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_webhooks_need_a_service_key(client, service_key):
    assert client.get("/api/v1/webhooks").status_code == 401
    body = {"url": "http://127.0.0.1:9/h", "events": ALL}
    assert register(client, "dck_nope_nope", body).status_code == 401
    created = register(client, service_key, body).json()
    assert client.delete(f"/api/v1/webhooks/{created['id']}").status_code == 401
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.django_db
def test_endpoints_are_global_to_the_portal(client, service_key):
    """Any service key sees and may delete every endpoint: one portal serves one app."""
    from portal.api.keys import create_service_key

    created = register(client, service_key, {"url": "http://127.0.0.1:9/h", "events": ALL})
    other = create_service_key(name="rotated key")[1]
    assert len(client.get("/api/v1/webhooks", **auth(other)).json()["webhooks"]) == 1
    assert (
        client.delete(f"/api/v1/webhooks/{created.json()['id']}", **auth(other)).status_code == 204
    )


@pytest.mark.django_db
def test_staff_webhook_pages_need_their_permission(alice, staff, make_user, webhook, make_grant):
    endpoint, _ = webhook
    with_delivery(make_grant())
    row = WebhookDelivery.objects.get()
    for method, url in (
        ("get", reverse("staff:webhooks")),
        ("get", reverse("staff:webhook_detail", args=[endpoint.pk])),
        ("post", reverse("staff:webhook_redeliver", args=[row.pk])),
    ):
        assert_permission_matrix(
            method=method,
            url=url,
            codename="manage_webhooks",
            alice=alice,
            staff=staff,
            make_user=make_user,
        )


def with_delivery(grant):
    from django.db import transaction

    with transaction.atomic():
        return events.emit(event_type=events.EventType.CONNECTED, grant=grant)


@pytest.mark.django_db(transaction=True)
def test_staff_see_deliveries_and_redeliver_with_the_same_id(staff, webhook, receiver, make_grant):
    endpoint, secret = webhook
    give(staff, "manage_webhooks")
    event = with_delivery(make_grant())
    run_jobs(events.DELIVER_WEBHOOK)
    browser = client_for(staff)
    listing = browser.get(reverse("staff:webhooks")).content.decode()
    assert endpoint.url.replace("&", "&amp;") in listing
    page = browser.get(reverse("staff:webhook_detail", args=[endpoint.pk])).content.decode()
    assert event.message_id in page and "Delivered" in page and "200" in page
    row = WebhookDelivery.objects.get()
    answer = browser.post(reverse("staff:webhook_redeliver", args=[row.pk]))
    assert answer.status_code == 302
    assert len(queued(events.DELIVER_WEBHOOK)) == 1
    run_jobs(events.DELIVER_WEBHOOK)
    assert [got.headers["webhook-id"] for got in receiver.received] == [event.message_id] * 2
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("delivered", 2)
    audit = AuditEvent.objects.get(action="webhook.redelivered")
    assert audit.actor_id == staff.pk and audit.detail["event"] == event.message_id
    assert_no_leak([secret, secret[6:]], listing, page)


@pytest.mark.django_db(transaction=True)
def test_redelivery_replaces_a_waiting_retry(make_grant, staff):
    """The retry queued before a redelivery does nothing: one send per attempt key."""
    from accounts.audit import AuditContext
    from portal.api.webhooks import delivery
    from portal.api.webhooks.endpoints import register_endpoint

    failing = Receiver(statuses=[500, 200])
    try:
        register_endpoint(url=failing.url(), events=ALL, context=AuditContext())
        with_delivery(make_grant())
        [first] = queued(events.DELIVER_WEBHOOK)
        assert delivery.deliver(**first.args) == "retrying"
        [retry] = [job for job in queued(events.DELIVER_WEBHOOK) if job.pk != first.pk]
        row = WebhookDelivery.objects.get()
        assert delivery.redeliver(delivery_id=row.pk, context=AuditContext(actor=staff))
        assert delivery.deliver(**retry.args) == "skipped"
        [manual] = [j for j in queued(events.DELIVER_WEBHOOK) if j.pk not in (first.pk, retry.pk)]
        assert delivery.deliver(**manual.args) == "delivered"
        assert len(failing.received) == 2
    finally:
        failing.close()


@pytest.mark.django_db
def test_at_most_twenty_endpoints(client, service_key):
    body = {"url": "http://127.0.0.1:9/h", "events": ALL}
    for _ in range(20):
        assert register(client, service_key, body).status_code == 201
    refused = register(client, service_key, body)
    assert refused.status_code == 409 and refused.json()["code"] == "too_many_endpoints"
    assert WebhookEndpoint.objects.count() == 20
