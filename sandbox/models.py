"""What the Zoho sandbox remembers, all in Postgres so several processes share one Zoho.

Tokens, codes and client secrets are stored only as SHA-256 hashes; a short ``hint``
(``1000.abcd…wxyz``) is kept for the control page. Nothing here holds a secret in clear.
"""

from django.db import models
from django.utils import timezone


class Client(models.Model):
    """An OAuth client registered "in the API console" (the portal's, or one a test added)."""

    client_id = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    secret_hash = models.CharField(max_length=64)
    dc_secret_hashes = models.JSONField(default=dict, blank=True)
    redirect_uris = models.JSONField(default=list)
    data_centres = models.JSONField(default=list)
    is_portal = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.client_id


class ZohoAccount(models.Model):
    """A Zoho user (identified by the numeric-string ZUID), living in one data centre."""

    zuid = models.CharField(max_length=20, unique=True)
    data_centre = models.CharField(max_length=4)
    email = models.CharField(max_length=254)
    first_name = models.CharField(max_length=200)
    last_name = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200)

    class Meta:
        ordering = ["zuid"]

    def __str__(self) -> str:
        return f"{self.zuid} ({self.data_centre})"


class DeskOrganization(models.Model):
    """A Zoho Desk organization (portal) in which the account is an agent."""

    account = models.ForeignKey(ZohoAccount, on_delete=models.CASCADE, related_name="orgs")
    org_id = models.CharField(max_length=20, unique=True)
    agent_id = models.CharField(max_length=20)
    company_name = models.CharField(max_length=200)
    portal_name = models.CharField(max_length=200)
    edition = models.CharField(max_length=20)
    portal_url = models.CharField(max_length=500, blank=True)  # blank: derived from the DC
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["org_id"]

    def __str__(self) -> str:
        return self.org_id


class DeskTicket(models.Model):
    """A ticket in a Desk organization (the ``tickets`` endpoints the proxy tests call)."""

    org = models.ForeignKey(DeskOrganization, on_delete=models.CASCADE, related_name="tickets")
    ticket_number = models.PositiveIntegerField()
    subject = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=40, default="Open")
    email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.ticket_number} ({self.org.org_id})"


class Consent(models.Model):
    """The account has approved the client before (so later offline grants get no refresh token
    unless ``prompt=consent``). Connected Apps → Revoke Access deletes it."""

    account = models.ForeignKey(ZohoAccount, on_delete=models.CASCADE)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    scope = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "client"], name="sandbox_one_consent")
        ]

    def __str__(self) -> str:
        return f"consent of account #{self.account_id} to client #{self.client_id}"


class AuthorizationCode(models.Model):
    code_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    account = models.ForeignKey(ZohoAccount, on_delete=models.CASCADE)
    data_centre = models.CharField(max_length=4)
    redirect_uri = models.TextField()
    scope = models.TextField()
    issue_refresh_token = models.BooleanField(default=False)
    code_challenge = models.CharField(max_length=128, blank=True)
    code_challenge_method = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"grant code #{self.pk}"


class RefreshToken(models.Model):
    """One grant: a refresh token of one account for one client in one data centre."""

    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=20)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    account = models.ForeignKey(ZohoAccount, on_delete=models.CASCADE)
    data_centre = models.CharField(max_length=4)
    scope = models.TextField()
    code = models.ForeignKey(AuthorizationCode, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"refresh token #{self.pk} {self.hint}"


class AccessToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=20)
    refresh_token = models.ForeignKey(
        RefreshToken, null=True, blank=True, on_delete=models.CASCADE, related_name="access_tokens"
    )
    code = models.ForeignKey(AuthorizationCode, null=True, blank=True, on_delete=models.SET_NULL)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    account = models.ForeignKey(ZohoAccount, on_delete=models.CASCADE)
    data_centre = models.CharField(max_length=4)
    scope = models.TextField()
    is_from_refresh = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["refresh_token", "created_at"])]

    def __str__(self) -> str:
        return f"access token #{self.pk} {self.hint}"


class Fault(models.Model):
    """A fault switch: makes matching requests fail (or behave oddly) ``remaining`` more times,
    or until cleared when ``remaining`` is null."""

    kind = models.CharField(max_length=32)
    data_centre = models.CharField(max_length=4, blank=True)  # "" = every DC
    endpoint = models.CharField(max_length=32, default="all")
    zuid = models.CharField(max_length=20, blank=True)  # "" = any user
    params = models.JSONField(default=dict, blank=True)
    remaining = models.PositiveIntegerField(null=True, blank=True)
    fired = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind}@{self.data_centre or '*'}/{self.endpoint}"


class RecordedRequest(models.Model):
    """One request a Zoho-facing endpoint received. Never a token, code or secret."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    data_centre = models.CharField(max_length=16)
    endpoint = models.CharField(max_length=32)
    method = models.CharField(max_length=10)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # null: connection dropped
    error_code = models.CharField(max_length=64, blank=True)
    client_id = models.CharField(max_length=200, blank=True)
    zuid = models.CharField(max_length=20, blank=True)
    grant_id = models.BigIntegerField(null=True, blank=True)
    fault = models.CharField(max_length=200, blank=True)
    # Desk endpoints: the header names received (never values), and the orgId header.
    header_names = models.JSONField(default=list, blank=True)
    org_id = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.method} {self.data_centre}/{self.endpoint} → {self.status}"


class SandboxSettings(models.Model):
    """Behaviour switches (a single row, id 1). Defaults follow the reference."""

    access_token_lifetime = models.PositiveIntegerField(default=3600)
    code_lifetime = models.PositiveIntegerField(default=120)
    pkce_enforced = models.BooleanField(default=True)
    pkce_required = models.BooleanField(default=False)
    allow_space_separated_scopes = models.BooleanField(default=False)
    revoke_on_code_reuse = models.BooleanField(default=False)
    revoke_at_any_dc = models.BooleanField(default=False)

    def __str__(self) -> str:
        return "sandbox settings"
