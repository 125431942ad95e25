"""Webhook endpoints of the app's backend, the grant events for them and their deliveries."""

import uuid

from django.db import models
from django.utils import timezone

from portal.models.permissions import (
    MANAGE_WEBHOOKS,
    _codename,
)


class WebhookEndpoint(models.Model):
    """A URL of the app's backend that receives signed grant events (Standard Webhooks).

    Global to the deployment: every service key sees and may delete every endpoint (there is
    one app backend per portal); the key that created it is kept by name. The signing secret
    is stored encrypted (``portal.crypto``, bound to this row's id) because the portal must
    sign with it; it is shown once, at creation. A rotated-out secret stays in
    ``previous_secret_encrypted`` until ``previous_secret_until``: deliveries meanwhile carry a
    signature with each, so receivers can switch without missing one. ``disabled_at`` is set
    when the receiver answers 410 Gone: nothing more is sent there.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list)
    secret_encrypted = models.BinaryField(editable=False)
    previous_secret_encrypted = models.BinaryField(null=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_repr = models.CharField(max_length=254, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            (_codename(MANAGE_WEBHOOKS), "Can see webhook endpoints and deliveries, redeliver")
        ]

    def __str__(self) -> str:
        return f"Webhook endpoint {self.url}"

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.pk}>"


class WebhookEvent(models.Model):
    """One event about a grant, snapshotted when the change that caused it committed.

    ``body`` is the exact JSON text every delivery sends and signs (the same bytes on every
    retry); the id, as ``msg_<hex>``, is the ``webhook-id`` receivers deduplicate by.
    ``grant_id`` is a plain value: the event outlives the grant.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40)
    grant_id = models.UUIDField()
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["grant_id", "created_at"], name="webhook_event_grant")]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"

    @property
    def message_id(self) -> str:
        """The ``webhook-id`` header: stable across retries and redeliveries."""
        return f"msg_{self.pk.hex}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: its attempts so far and how the last one went.

    Each attempt is a job of its own (``portal.deliver_webhook``) carrying the delivery's id
    and ``attempt_key``, a random value the delivery holds while that job is the one due: a
    redelivery queues a new job with a new key, so the retry it replaces does nothing, while a
    job run again after its worker died still holds the key and sends (at least once).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Given up"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=64, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempt_key = models.CharField(max_length=32, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="portal_one_delivery_per_event_and_endpoint"
            )
        ]
        indexes = [
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_endpoint")
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} of {self.event_id}"
