"""Grant events for the app's backend: recorded and queued in the transaction of the change.

:func:`emit` snapshots the grant as the API shows it (``portal.grants.representation``) into a
``WebhookEvent`` and, for every endpoint subscribed to the type, a ``WebhookDelivery`` and a
Procrastinate job on the ``webhooks`` queue. Procrastinate's Django connector writes the job
through Django's connection, so event, deliveries and jobs commit with the change or not at all
(the outbox pattern of ``accounts.outbox``), and nobody waits on a receiver under a lock: a
worker sends after commit (``portal.api.webhooks.delivery``). The task itself is a shell in
``portal/tasks.py``, named here by its task name only.

Where each type is emitted: ``grant.connected`` / ``grant.reconnected`` by ``connect``,
``grant.needs_reconnect`` and ``grant.recovered`` (Upstream trouble back to Active) by
``tokens``, ``grant.warning`` and ``grant.recovered`` (a warning cleared on a working grant)
by ``early_warning``, ``grant.revoked`` by ``revocation`` once the secrets are wiped.
"""

import json
import logging
import secrets
from datetime import timedelta
from enum import StrEnum

from django.utils import timezone
from procrastinate.contrib.django import app

from accounts import request_id
from portal.grants.representation import grant_detail_payload
from portal.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, ZohoGrant

logger = logging.getLogger(__name__)

QUEUE = "webhooks"  # its own queue, so operators can give slow receivers workers of their own
DELIVER_WEBHOOK = "portal.deliver_webhook"


class EventType(StrEnum):
    CONNECTED = "grant.connected"
    RECONNECTED = "grant.reconnected"
    NEEDS_RECONNECT = "grant.needs_reconnect"
    RECOVERED = "grant.recovered"
    WARNING = "grant.warning"
    REVOKED = "grant.revoked"


def emit(*, event_type: EventType, grant: ZohoGrant) -> WebhookEvent | None:
    """Record one event about ``grant`` (as stored now) and queue its deliveries.

    Call it inside the transaction of the change, after the grant is saved. None when no
    endpoint listens for this type (nothing is stored then).
    """
    endpoints = list(
        WebhookEndpoint.objects.filter(
            disabled_at__isnull=True, events__contains=[str(event_type)]
        ).values_list("pk", flat=True)
    )
    if not endpoints:
        return None
    now = timezone.now()
    body = {
        "type": str(event_type),
        "timestamp": now.isoformat(),
        "data": grant_detail_payload(grant.pk),
    }
    event = WebhookEvent.objects.create(
        type=str(event_type),
        grant_id=grant.pk,
        body=json.dumps(body, separators=(",", ":"), sort_keys=True),
        created_at=now,
    )
    for endpoint_id in endpoints:
        delivery = WebhookDelivery.objects.create(
            event=event, endpoint_id=endpoint_id, created_at=now, next_attempt_at=now
        )
        queue_attempt(delivery)
    logger.info(
        "event %s of grant %s queued for %d endpoints", event_type, grant.pk, len(endpoints)
    )
    return event


def queue_attempt(delivery: WebhookDelivery, *, delay_seconds: int = 0) -> int:
    """Defer the job of the delivery's next attempt, under a new ``attempt_key`` (saved here);
    any job queued before for it then does nothing. Returns the job id."""
    delivery.attempt_key = secrets.token_hex(16)
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay_seconds)
    delivery.save(update_fields=["attempt_key", "next_attempt_at"])
    deferrer = app.configure_task(
        name=DELIVER_WEBHOOK,
        queue=QUEUE,
        allow_unknown=False,
        schedule_in={"seconds": delay_seconds} if delay_seconds else None,
    )
    return deferrer.defer(**request_id.tagged(delivery_id=delivery.pk, key=delivery.attempt_key))
