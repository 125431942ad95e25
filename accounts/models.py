"""Portal users: email is the login, unique regardless of case."""

from importlib import import_module
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.postgres.search import SearchVector
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    """Creates users by email and finds them by email in any case."""

    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in to the portal. Staff are users with ``is_staff``."""

    # No username: Django documents removing the field this way, the stubs type it as always there.
    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", max_length=254, unique=True)
    has_alert_emails = models.BooleanField(
        "email me when a connection needs reconnecting", default=True
    )
    # Set when staff delete a user whose Zoho tokens are not all revoked yet: the user stays
    # (deactivated) until the worker has seen every revocation through, then is deleted.
    deletion_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The app's own id for this customer: set only through the API (connect sessions) and
    # by staff (accounts.external_ids), never by the customer; no form edits it.
    external_id = models.CharField(
        max_length=200, null=True, blank=True, unique=True, editable=False
    )
    # When the user proved the email is theirs (a confirmation link, a connect session from
    # the app, or a demo user); None for anyone who never did, users from before it existed
    # included. Only verified emails are found by the API's ``?email=``.
    email_verified_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Ours finds users by email; the stubs insist on contrib.auth's username-based UserManager.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        permissions = [("manage_users", "Can list, deactivate and reactivate portal users")]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class AuthenticatedHttpRequest(HttpRequest):
    """For annotations only: a request whose user is signed in, as every view behind
    ``LoginRequiredMiddleware`` (all but the ``login_not_required`` ones) receives it."""

    user: User


# The reason's words, as the reason index stores them and the audit filters search them.
REASON_WORDS = SearchVector(KT("detail__reason"), config="simple")


class AuditEvent(models.Model):
    """One thing that happened, kept forever and never changed.

    Shaped like Django's ``LogEntry`` but append-only: it holds plain ids and their text at
    the time instead of foreign keys, so no delete elsewhere can rewrite it, and a database
    trigger refuses UPDATE and DELETE. Detail never holds secrets (``accounts.audit``
    refuses them).

    Tamper evidence (migration 0008): a BEFORE INSERT trigger numbers every row (``seq``,
    gapless, under one advisory lock), links it to its predecessor (``prev_hash``) and stores
    the SHA-256 of that link and the row's fields (``hash``); ``created_at`` never goes back
    in ``seq`` order (it is raised to the predecessor's when it would). Writers set none of
    these: the database fills them, also for bulk inserts and COPY.
    """

    class Action(models.TextChoices):
        CONNECT_STARTED = "grant.connect_started"
        CONNECTED = "grant.connected"
        CONNECT_FAILED = "grant.connect_failed"
        RECONNECTED = "grant.reconnected"
        CONNECT_MERGED = "grant.connect_merged"
        SUPERSEDED_TOKEN_REVOKED = "grant.superseded_token_revoked"
        SUPERSEDED_TOKEN_REVOKE_FAILED = "grant.superseded_token_revoke_failed"
        TESTED = "grant.tested"
        REFRESHED = "grant.refreshed"
        REFRESH_FAILED = "grant.refresh_failed"
        REVOKE_REQUESTED = "grant.revoke_requested"
        REVOKED = "grant.revoked"
        REVOKE_FAILED = "grant.revoke_failed"
        HIDDEN = "grant.hidden"
        TOKEN_ISSUED = "grant.token_issued"
        CHECKED = "grant.checked"
        CHECK_FAILED = "grant.check_failed"
        RECOVERED = "grant.recovered"
        OWNER_ALERTED = "grant.owner_alerted"
        SECRETS_PURGED = "grant.secrets_purged"
        WARNING_RAISED = "grant.warning_raised"
        WARNING_CLEARED = "grant.warning_cleared"
        ALERT_EMAILS_CHANGED = "user.alert_emails_changed"
        SERVICE_KEY_CREATED = "service_key.created"
        SERVICE_KEY_REVOKED = "service_key.revoked"
        USER_DEACTIVATED = "user.deactivated"
        USER_REACTIVATED = "user.reactivated"
        USER_LOGIN_FAILED = "user.login_failed"
        ACCESS_REFUSED = "user.access_refused"  # asked for a grant that is not theirs
        USER_DELETION_REQUESTED = "user.deletion_requested"
        USER_DELETED = "user.deleted"
        USER_CREATED = "user.created"
        USER_ACCESS_CHANGED = "user.access_changed"
        GROUP_PERMISSIONS_CHANGED = "group.permissions_changed"
        AUDIT_EXPORTED = "audit.exported"
        CLIENT_REJECTED = "portal.client_rejected"
        CLIENT_RECOVERED = "portal.client_recovered"
        EXTERNAL_ID_CHANGED = "user.external_id_changed"
        EMAIL_VERIFIED = "user.email_verified"
        EMAIL_CHANGED = "user.email_changed"
        CONNECT_SESSION_CREATED = "connect_session.created"
        CONNECT_SESSION_OPENED = "connect_session.opened"
        CONNECT_SESSION_SIGNED_IN = "connect_session.signed_in"
        CONNECT_SESSION_REFUSED = "connect_session.refused"
        CONNECT_SESSION_FINISHED = "connect_session.finished"
        WEBHOOK_CREATED = "webhook.created"
        WEBHOOK_DELETED = "webhook.deleted"
        WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"
        WEBHOOK_REDELIVERED = "webhook.redelivered"
        WEBHOOK_DISABLED = "webhook.disabled"
        GRANT_MIGRATED = "grant.migrated"
        MIGRATION_IMPORTED = "migration.imported"
        MIGRATION_FAILED = "migration.conversion_failed"
        MIGRATION_INVITED = "migration.invited"
        MIGRATION_OPTED_OUT = "migration.opted_out"
        MIGRATION_BOUNCED = "migration.bounced"

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_repr = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, choices=Action.choices)
    grant_id = models.UUIDField(null=True, blank=True)
    grant_repr = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    # The portal user who owns the grant the event is about (no join needed to filter by it).
    owner_id = models.BigIntegerField(null=True, blank=True)
    owner_repr = models.CharField(max_length=254, blank=True, default="", db_default="")
    # The request (or the job it queued) that wrote the event, to find its log lines; part of
    # the chained hash when set (migration 0019), so it cannot be edited unseen either.
    request_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    # Filled by the database's chain trigger; the defaults only stand in until it runs (with
    # the trigger disabled, a second insert then collides on seq 0 instead of going unchained).
    seq = models.BigIntegerField(db_default=0, unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, db_default="", editable=False)
    hash = models.CharField(max_length=64, db_default="", editable=False)

    class Meta:
        permissions = [("view_audit_log", "Can read and export the audit log")]
        ordering = ("-seq",)
        # Every filter of the staff page walks one of these newest first (keyset on seq).
        indexes = [
            models.Index(fields=["created_at", "seq"], name="audit_time_seq"),
            models.Index(fields=["action", "seq"], name="audit_action_seq"),
            # The staff overview's per-day series group one action's events by day.
            models.Index(fields=["action", "created_at"], name="audit_action_time"),
            models.Index(fields=["grant_id", "seq"], name="audit_grant_seq"),
            models.Index(fields=["actor_id", "seq"], name="audit_actor_seq"),
            models.Index(fields=["owner_id", "seq"], name="audit_owner_seq"),
            models.Index(
                fields=["seq"], condition=models.Q(outcome="failure"), name="audit_failure_seq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_repr or 'system'}"


class RateCounter(models.Model):
    """Hits on one rate-limit key in one fixed window; shared by every process."""

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratecounter_key_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratecounter_window")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%H:%M:%S}: {self.hits}"


class UserSession(AbstractBaseSession):
    """A database session that also records whose it is, so all of a user's sessions can be
    ended with one indexed DELETE instead of decoding every session in the table."""

    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        # The configured engine (accounts.sessions), found by name: that module imports this one.
        store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
        return store

    def __str__(self) -> str:
        return f"session of user {self.user_id}" if self.user_id else "anonymous session"
