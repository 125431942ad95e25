"""The app's connect links for its customers."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.models.grants import ZohoGrant
from portal.models.keys import ServiceKey


class ConnectSession(models.Model):
    """A single-use, expiring link the app's backend asked for, to onboard its customer.

    Only the SHA-256 digest of the link's secret is kept; the secret itself exists in the URL
    handed to the backend and nowhere else. ``consumed_at`` is set once, by the one request
    that signs the customer in; ``outcome`` once, when the connection that followed ends.
    """

    class Outcome(models.TextChoices):
        CONNECTED = "connected"
        CANCELLED = "cancelled"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    secret_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    return_url = models.CharField(max_length=2000, blank=True)
    created_by = models.ForeignKey(
        ServiceKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    grant = models.ForeignKey(
        ZohoGrant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="connect_session_user")]

    def __str__(self) -> str:
        return f"Connect session {self.pk}"

    def __repr__(self) -> str:
        return f"<ConnectSession {self.pk}>"
