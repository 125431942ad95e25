"""Sending one delivery's attempt after commit, recording it, and retrying with back-off.

The job (``portal.deliver_webhook``, a shell in ``portal/tasks.py``) runs :func:`deliver`:
1. claim under the delivery's row lock: still pending, still this job's ``attempt_key``;
   count the attempt and commit;
2. send, outside any transaction and lock (``client.post``: checked address, timeouts, no
   redirects), signed afresh with the same ``webhook-id`` and body every time;
3. record the outcome under the lock: delivered; or, on a network error, a timeout or any
   non-2xx answer, queue the next attempt after :data:`RETRY_WAITS` (the Standard Webhooks
   schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, so 8 attempts over about 27.6 hours),
   then give up and email the staff who manage webhooks. ``410 Gone`` disables the endpoint
   at once (audited): the receiver said it will never take deliveries again.

:func:`redeliver` (staff) queues one more attempt now; a retry it replaces does nothing.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import outbox
from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User
from portal.api.webhooks import client, endpoints, signing
from portal.crypto import TokenDecryptError
from portal.grants import events
from portal.models import MANAGE_WEBHOOKS, WebhookDelivery

logger = logging.getLogger(__name__)
State = WebhookDelivery.State
RETRY_WAITS = (5, 300, 1800, 7200, 18000, 36000, 36000)  # seconds after attempt 1, 2, …
MAX_ATTEMPTS = len(RETRY_WAITS) + 1
GONE = 410


@sensitive_variables("secrets", "headers")
def deliver(*, delivery_id: int, key: str) -> str:
    """Make the attempt the job holding ``key`` is due to make; returns what happened."""
    with transaction.atomic():
        delivery = _locked(delivery_id)
        if delivery is None or delivery.state != State.PENDING or delivery.attempt_key != key:
            return "skipped"
        if delivery.endpoint.disabled_at is not None:
            _finish(delivery, State.FAILED)
            return "endpoint_disabled"
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.save(update_fields=["attempts", "last_attempt_at"])
        event, url = delivery.event, delivery.endpoint.url
        try:
            secrets = endpoints.signing_secrets(delivery.endpoint, at=timezone.now())
        except TokenDecryptError:
            secrets = []
    if not secrets:
        attempt = client.Attempt(None, "secret_unreadable")
    else:
        headers = signing.headers(
            secrets=secrets, message_id=event.message_id, body=event.body, at=timezone.now()
        )
        attempt = client.post(url=url, headers=headers, body=event.body.encode())
    return _record(delivery_id=delivery_id, key=key, attempt=attempt)


def _locked(delivery_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("event", "endpoint")
        .filter(pk=delivery_id)
        .first()
    )


def _record(*, delivery_id: int, key: str, attempt: client.Attempt) -> str:
    with transaction.atomic():
        delivery = _locked(delivery_id)
        if delivery is None:
            return "skipped"  # the endpoint was deleted meanwhile
        delivery.last_response_code = attempt.status_code
        delivery.last_error = attempt.error
        delivery.save(update_fields=["last_response_code", "last_error"])
        if delivery.attempt_key != key or delivery.state != State.PENDING:
            return "superseded"  # redelivered meanwhile: that job carries on
        if attempt.ok:
            delivery.delivered_at = timezone.now()
            _finish(delivery, State.DELIVERED)
            return "delivered"
        logger.warning(
            "webhook delivery %s attempt %d failed: %s %s",
            delivery.pk,
            delivery.attempts,
            attempt.error,
            attempt.status_code or "",
        )
        if attempt.status_code == GONE:
            endpoints.disable_endpoint(endpoint=delivery.endpoint, reason="410 Gone")
            _finish(delivery, State.FAILED)
            return "endpoint_gone"
        if delivery.attempts >= MAX_ATTEMPTS:
            _finish(delivery, State.FAILED)
            _tell_staff(delivery)
            return "gave_up"
        events.queue_attempt(delivery, delay_seconds=RETRY_WAITS[delivery.attempts - 1])
        return "retrying"


def _finish(delivery: WebhookDelivery, state: str) -> None:
    delivery.state = state
    delivery.attempt_key = ""
    delivery.next_attempt_at = None
    delivery.save(update_fields=["state", "attempt_key", "next_attempt_at", "delivered_at"])


def _tell_staff(delivery: WebhookDelivery) -> None:
    """Email the staff who manage webhooks that a delivery was given up (no payload, no URL
    path: the host and the ids are enough to find it on the staff page)."""
    staff = [
        user.email
        for user in User.objects.filter(is_staff=True, is_active=True)
        if user.has_perm(MANAGE_WEBHOOKS)
    ]
    if not staff:
        return
    host = endpoints.host_of(delivery.endpoint.url)
    text = (
        f"Desk Connect gave up delivering the webhook event {delivery.event.message_id} "
        f"({delivery.event.type}) to {host} after {delivery.attempts} attempts; the last one "
        f"failed with {delivery.last_error} {delivery.last_response_code or ''}.\n\n"
        "Staff pages, Webhooks: the delivery can be sent again from there.\n"
    )
    subject = f"Desk Connect: webhook delivery to {host} given up"
    outbox.send_later(kind="webhook_given_up", to=sorted(staff), subject=subject, text=text)


def redeliver(*, delivery_id: int, context: AuditContext) -> bool:
    """Queue one more attempt now (staff); False when the endpoint is disabled."""
    with transaction.atomic():
        delivery = _locked(delivery_id)
        if delivery is None or delivery.endpoint.disabled_at is not None:
            return False
        delivery.state = State.PENDING
        delivery.save(update_fields=["state"])
        events.queue_attempt(delivery)
        record_event(
            action=AuditEvent.Action.WEBHOOK_REDELIVERED,
            context=context,
            grant=None,
            detail={
                "delivery": delivery.pk,
                "event": delivery.event.message_id,
                "type": delivery.event.type,
                "endpoint": str(delivery.endpoint_id),
            },
        )
    return True
