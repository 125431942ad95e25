"""Zoho grants (ciphertext only) and pending authorization requests."""

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone

# The staff permissions on these models by their full names, written only here: the Meta
# classes below declare them; the staff pages (``portal.staff.access``), the admin and the
# staff alerts (``portal.grants.client_health``) check them.
VIEW_ALL_GRANTS = "portal.view_all_grants"
REVOKE_ANY_GRANT = "portal.revoke_any_grant"
MANAGE_SERVICE_KEYS = "portal.manage_service_keys"
MANAGE_WEBHOOKS = "portal.manage_webhooks"


def _codename(permission: str) -> str:
    """What a Meta declares for a full permission name (``view_all_grants``)."""
    return permission.partition(".")[2]


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


# -- Bringing existing customers over (issue 17): campaigns and their customers -----------------
# The import (``portal.migration.imports``) writes these; the conversion jobs
# (``portal.migration.conversion``) move a customer's step.

RUN_MIGRATIONS = "portal.run_migrations"


class MigrationCampaign(models.Model):
    """One move of an app's existing customers onto portal grants, by a deadline."""

    name = models.CharField(max_length=100, unique=True)
    deadline = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [
            (_codename(RUN_MIGRATIONS), "Can import customers and run migration campaigns")
        ]

    def __str__(self) -> str:
        return self.name


class MigrationCustomer(models.Model):
    """One imported customer of a campaign and how far their move has come.

    ``secret_encrypted`` holds the row's authtoken or refresh token, bound to this row's id,
    only until its conversion attempt ends (then NULL, whatever the outcome). ``failure_reason``
    is a short code (``dead_authtoken``, ``wrong_org``, ``misconfigured``, ``unavailable``,
    ``refresh_rejected``); ``last_error`` is Zoho's safe code of the last attempt.
    """

    class Kind(models.TextChoices):
        AUTHTOKEN = "authtoken", "Authtoken"
        REFRESH_TOKEN = "refresh_token", "Refresh token"
        NONE = "none", "No token"

    class Step(models.TextChoices):
        IMPORTED = "imported", "Imported, waiting for conversion"
        CONVERTING = "converting", "Converting"
        CONVERTED = "converted", "Converted"
        VERIFY_FAILED = "verify_failed", "Refresh token did not work"
        CONVERSION_FAILED = "conversion_failed", "Conversion failed"
        TO_INVITE = "to_invite", "To invite"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(
        MigrationCampaign, on_delete=models.CASCADE, related_name="customers"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    line = models.PositiveIntegerField()
    data_centre = models.CharField(max_length=8, blank=True)
    desk_org_id = models.CharField(max_length=20, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    step = models.CharField(max_length=20, choices=Step.choices)
    failure_reason = models.CharField(max_length=32, blank=True)
    secret_encrypted = models.BinaryField(null=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=64, blank=True)
    grant = models.ForeignKey(
        ZohoGrant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Invitations (portal.migration.invitations): the link's secret is only its session's digest.
    invited_at = models.DateTimeField(null=True, blank=True)
    invitations_sent = models.PositiveIntegerField(default=0)
    last_session = models.ForeignKey(
        ConnectSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_reminded_on = models.DateField(null=True, blank=True)
    link_opened_at = models.DateTimeField(null=True, blank=True)  # any of its links, first time
    connected_at = models.DateTimeField(null=True, blank=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "user"], name="portal_one_customer_per_campaign"
            )
        ]
        indexes = [models.Index(fields=["campaign", "step"], name="migration_customer_step")]

    def __str__(self) -> str:
        return f"Customer on line {self.line} of {self.campaign_id}"

    def __repr__(self) -> str:
        return f"<MigrationCustomer {self.pk} {self.kind} {self.step}>"
