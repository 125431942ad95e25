"""Staff bulk revocations: a batch and its grants."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.models.grants import ZohoGrant


class StaffRevocation(models.Model):
    """Staff revoking a batch of grants with one reason: who asked, from where, when it ended.

    The request records the batch and defers one job per grant in the same transaction; each
    job rebuilds the audit context from ``actor``, ``ip_address`` and ``user_agent``, so every
    audit row names the staff member as if the request had done the work itself.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Staff revocation {self.pk}"


class StaffRevocationItem(models.Model):
    """One grant of a :class:`StaffRevocation` and, once its job is done, the outcome.

    ``outcome`` is a ``portal.staff.actions.StaffRevokeOutcome`` value, written once under the
    row lock; ``started_at`` tells a retried job that an earlier run may have revoked the grant.
    """

    revocation = models.ForeignKey(StaffRevocation, on_delete=models.CASCADE, related_name="items")
    grant = models.ForeignKey(ZohoGrant, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["revocation", "grant"], name="portal_one_item_per_grant_and_batch"
            )
        ]
        indexes = [models.Index(fields=["revocation", "position"], name="staff_revocation_order")]

    def __str__(self) -> str:
        return f"Grant {self.grant_id} of staff revocation {self.revocation_id}"
