"""The app backend's service keys, and which access token each key has been handed."""

from django.conf import settings
from django.db import models

from portal.models.grants import ZohoGrant
from portal.models.permissions import (
    MANAGE_SERVICE_KEYS,
    _codename,
)


class ServiceKey(models.Model):
    """A credential the app's backend uses for the token API (``Authorization: Bearer``).

    The key is ``dck_<prefix>_<secret>``; only the prefix (to find the row) and a SHA-256
    digest of the whole key are stored. The key itself is shown once, at creation.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_digest = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [(_codename(MANAGE_SERVICE_KEYS), "Can create, list and revoke service keys")]

    def __str__(self) -> str:
        return f"{self.name} (dck_{self.prefix}_…)"


class TokenIssuance(models.Model):
    """That a service key received a grant's access token (one row per token, not per call)."""

    service_key = models.ForeignKey(ServiceKey, on_delete=models.CASCADE)
    grant = models.ForeignKey(ZohoGrant, on_delete=models.CASCADE)
    access_token_expires_at = models.DateTimeField()
    first_issued_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service_key", "grant", "access_token_expires_at"],
                name="portal_one_issuance_per_token",
            )
        ]

    def __str__(self) -> str:
        return f"issuance {self.pk}"
