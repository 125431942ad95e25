"""Bringing existing customers over (issue 17): campaigns and their customers."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.models.connect_sessions import ConnectSession
from portal.models.grants import ZohoGrant
from portal.models.permissions import (
    RUN_MIGRATIONS,
    _codename,
)

# -- Bringing existing customers over (issue 17): campaigns and their customers -----------------
# The import (``portal.migration.imports``) writes these; the conversion jobs
# (``portal.migration.conversion``) move a customer's step.


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
