"""Zoho grants (ciphertext only), pending authorization requests, tokens waiting to be revoked at
Zoho, and each data centre's client health."""

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone

from portal.models.permissions import (
    REVOKE_ANY_GRANT,
    VIEW_ALL_GRANTS,
    _codename,
)

# Sort key for "last refreshed": never-refreshed grants count as refreshed at the epoch, so
# the keyset row comparison never meets a NULL (an index holds this very expression).
REFRESHED_SORT_KEY = Func(
    F("last_refreshed_at"),
    template="COALESCE(%(expressions)s, '1970-01-01 00:00:00+00'::timestamptz)",
    output_field=models.DateTimeField(),
)


class ZohoGrant(models.Model):
    """One Zoho Desk connection of a portal user: a refresh token and what it unlocks.

    Token columns hold ciphertext from ``portal.crypto`` bound to this row's id; they are
    blanked when the grant is revoked. Transitions between statuses follow DESIGN.md and are
    made only by services in ``portal.grants``.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        TROUBLE = "trouble", "Upstream trouble"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
        REVOKING = "revoking", "Revoking"
        REVOKED = "revoked", "Revoked"

    class Warning(models.TextChoices):
        """Signs that a grant that still works is about to break (set by the upkeep tasks)."""

        NONE = "", "No warning"
        REPEATED_FAILURES = "repeated_failures", "Repeated upstream failures"
        TOKEN_CAP = "token_cap", "Zoho's refresh-token limit nearly reached"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PROTECT: deleting a user must revoke their tokens at Zoho first, which only
    # portal.grants.user_deletion does; a plain delete of a user with grants raises.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="zoho_grants"
    )
    data_centre = models.CharField(max_length=8)
    accounts_server = models.CharField(max_length=200)
    api_domain = models.CharField(max_length=200, blank=True)
    desk_base_url = models.CharField(max_length=200)
    zoho_user_id = models.CharField(max_length=64)
    zoho_email = models.CharField(max_length=254, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    organizations = models.JSONField(default=list, blank=True)
    scope = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    refresh_token_encrypted = models.BinaryField(null=True, editable=False)
    access_token_encrypted = models.BinaryField(null=True, editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_repr = models.CharField(max_length=254, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    failure_count = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=64, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    # Stamped by save() whenever ``status`` changes (retention and give-up periods, alerts).
    status_changed_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    check_failure_count = models.PositiveIntegerField(default=0)
    alerted_at = models.DateTimeField(null=True, blank=True)
    warning = models.CharField(max_length=32, choices=Warning.choices, default="", blank=True)
    warning_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            (_codename(VIEW_ALL_GRANTS), "Can see every grant in the staff pages"),
            (_codename(REVOKE_ANY_GRANT), "Can revoke any grant from the staff pages"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "data_centre", "zoho_user_id"],
                condition=~Q(status="revoked"),
                name="portal_one_live_grant_per_zoho_user",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="grant_user_status"),
            models.Index(fields=["data_centre", "zoho_user_id"], name="grant_dc_zuid"),
            models.Index(fields=["status", "next_check_at"], name="grant_status_next_check"),
            # The staff grant list (portal/staff_grants.py): one index per keyset sort order,
            # email prefixes, and the organizations' names and ids.
            models.Index(fields=["created_at", "id"], name="grant_created_id"),
            models.Index(REFRESHED_SORT_KEY, F("id"), name="grant_refreshed_id"),
            models.Index(fields=["status", "created_at", "id"], name="grant_status_created_id"),
            models.Index(
                fields=["created_at", "id"], condition=~Q(warning=""), name="grant_warned_created"
            ),
            # More live in migration 0007_staff_grant_indexes as SQL, because they need an
            # operator class or GIN (GinIndex and OpClass would need django.contrib.postgres):
            # grant_zoho_email_prefix on lower(zoho_email) text_pattern_ops (LIKE 'x%' under
            # a non-C collation), grant_orgs_path on organizations jsonb_path_ops, and
            # grant_organization_words on the column organization_words, which PostgreSQL
            # generates from organizations (to_tsvector('simple', ...)) and the model does
            # not declare: only the staff search's SQL reads it.
        ]

    def __str__(self) -> str:
        return f"{self.zoho_email or self.zoho_user_id} ({self.data_centre.upper()})"

    def __repr__(self) -> str:
        return f"<ZohoGrant {self.pk} {self.data_centre} {self.status}>"

    # The status as last loaded or saved (set by from_db and save; absent on a new instance).
    _stored_status: str | None

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, stamping ``status_changed_at`` when the status differs from the stored one.

        Every transition saves through here (services lock, change, save), so the retention
        and give-up periods of the upkeep tasks need no bookkeeping at each transition.
        """
        stored = getattr(self, "_stored_status", None)
        new = self._state.adding and self.status_changed_at is None
        if new or (stored is not None and stored != self.status):
            self.status_changed_at = timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "status_changed_at"}
        super().save(*args, **kwargs)
        self._stored_status = self.status

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> "ZohoGrant":
        grant = super().from_db(db, field_names, values, **kwargs)
        grant._stored_status = grant.__dict__.get("status")
        return grant

    def access_token_is_fresh(self, *, at: datetime, margin: timedelta) -> bool:
        """True when a stored access token stays valid for at least ``margin`` after ``at``."""
        return (
            self.access_token_encrypted is not None
            and self.access_token_expires_at is not None
            and self.access_token_expires_at > at + margin
        )


class PendingAuthorization(models.Model):
    """An authorization request sent to Zoho and not yet answered.

    Bound to the portal user and to the browser session that started it (by digest: the
    state and session key themselves are never stored). Consumed once, under a row lock,
    whatever the outcome; kept afterwards so a replay can be told apart from a forgery.
    """

    state_digest = models.CharField(max_length=64, unique=True)
    session_digest = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    region = models.CharField(max_length=8)
    code_verifier_encrypted = models.BinaryField()
    grant = models.ForeignKey(ZohoGrant, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="pending_user_time")]

    def __str__(self) -> str:
        return f"Pending authorization {self.pk} for user {self.user_id}"


class OrphanedToken(models.Model):
    """A refresh token the portal received and does not keep, waiting to be revoked at Zoho.

    Left by a reconnect (the replaced token) or by racing callbacks for the same Zoho user
    (the tokens of the callbacks that lost). The ciphertext is bound to this row's id; the row
    is deleted once Zoho confirms, so a job only ever carries the row's id, never a token.
    ``grant_id`` is a plain value (the grant may be gone by the time Zoho answers).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    grant_id = models.UUIDField(null=True, blank=True)
    data_centre = models.CharField(max_length=8)
    token_encrypted = models.BinaryField(editable=False)
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="orphan_token_created")]

    def __str__(self) -> str:
        return f"Orphaned token {self.pk} of grant {self.grant_id}"

    def __repr__(self) -> str:
        return f"<OrphanedToken {self.pk}>"


class DataCentreHealth(models.Model):
    """Whether Zoho accepts the portal's own OAuth client in one data centre.

    A row appears the first time a data centre answers ``invalid_client`` (or a kin code): the
    fault is the portal's configuration, not any grant's. While ``rejected_since`` is set no
    refresh goes to that data centre except one probe when ``next_probe_at`` has come; the
    first refresh that works there clears it. No secrets are kept here.
    """

    data_centre = models.CharField(max_length=8, primary_key=True)
    rejected_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=64, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    probe_failures = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        if self.rejected_since is None:
            return f"{self.data_centre}: ok"
        return f"{self.data_centre}: rejected since {self.rejected_since:%Y-%m-%d %H:%M}"
