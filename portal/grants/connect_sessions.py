"""Connect sessions: a link the app's backend asks for, that signs its customer in once.

The backend names its customer (``external_id``, email); the portal binds a user to the id
(``accounts.external_ids``), stores only the SHA-256 digest of a random secret and answers
with a URL that holds the secret. Opening the URL (GET) only explains; the POST that follows
consumes it with one conditional UPDATE, so of two racing requests exactly one signs in, and a
second opening, a second browser or a late one signs nobody in. When the connection that
follows ends, :func:`finish_connect_session` records the outcome once and names the app's
``return_url`` with ``outcome``, ``grant_id`` and ``session_id``. Every step is audited; the
secret never reaches the audit log, a log line or an exception.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.audit import AuditContext, record_event
from accounts.external_ids import (
    ExternalIdError,
    bind_customer,
    clean_email,
    clean_external_id,
    has_control_characters,
)
from accounts.models import AuditEvent, User
from portal.grants import return_urls
from portal.models import ConnectSession, MigrationCustomer, ZohoGrant

Action = AuditEvent.Action
Outcome = ConnectSession.Outcome
MAX_DISPLAY_NAME = 150  # User.first_name
_NOT_THIS_FLOW = frozenset({"missing", "unknown", "used"})


class ConnectSessionRefused(Exception):
    """The request cannot make a session; ``code`` is the API's stable problem code."""

    def __init__(self, code: str, status: int, message: str) -> None:
        self.code = code
        self.http_status = status
        self.message = message
        super().__init__(message)


class LinkUnusable(Exception):
    """The link signs nobody in; ``reason`` is ``unknown``, ``used`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class CreatedSession:
    id: UUID
    url: str = field(repr=False)  # holds the secret
    expires_at: datetime


@dataclass(frozen=True)
class Link:
    """What the link's page may show before anything is consumed."""

    session_id: UUID
    user_id: int
    reason: str  # "" while the link works


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@sensitive_variables("secret")
def create_connect_session(
    *,
    context: AuditContext,
    key_id: int | None,
    external_id: object,
    email: object,
    display_name: object = "",
    return_url: object = None,
) -> CreatedSession:
    """Bind (or create) the customer's user and make a link for them; audited."""
    try:
        external_id = clean_external_id(external_id)
        email = clean_email(email)
    except ExternalIdError as error:
        raise ConnectSessionRefused(error.code, 400, error.message) from None
    name = _clean_display_name(display_name)
    back = _clean_return_url(return_url)
    now = timezone.now()
    ttl = timedelta(minutes=settings.CONNECT_SESSION_TTL_MINUTES)
    try:
        with transaction.atomic():
            user = bind_customer(
                external_id=external_id, email=email, display_name=name, context=context
            )
            return _new_session(
                user=user, context=context, expires_at=now + ttl, key_id=key_id, return_url=back
            )
    except ExternalIdError as error:
        raise ConnectSessionRefused(error.code, 409, error.message) from None
    except IntegrityError:  # a concurrent request bound the same id or email first
        raise ConnectSessionRefused(
            "external_id_conflict", 409, "A concurrent request changed this customer; retry."
        ) from None


def create_for_user(*, user: User, context: AuditContext, expires_at: datetime) -> CreatedSession:
    """A link for a customer the portal already knows (a migration's invitation); audited.
    Call it in a transaction with whatever records the session's id."""
    return _new_session(user=user, context=context, expires_at=expires_at)


@sensitive_variables("secret")
def _new_session(
    *,
    user: User,
    context: AuditContext,
    expires_at: datetime,
    key_id: int | None = None,
    return_url: str = "",
) -> CreatedSession:
    secret = secrets.token_urlsafe(32)
    row = ConnectSession.objects.create(
        secret_digest=_digest(secret),
        user=user,
        return_url=return_url,
        created_by_id=key_id,
        created_at=timezone.now(),
        expires_at=expires_at,
    )
    _record(Action.CONNECT_SESSION_CREATED, row, context, has_return_url=bool(return_url))
    base = str(settings.PORTAL_BASE_URL).rstrip("/")
    url = base + reverse("portal:connect_link", args=[secret])
    return CreatedSession(id=row.pk, url=url, expires_at=row.expires_at)


def expire_session(session_id: UUID) -> bool:
    """Make a link that has not been used stop working now (a newer link replaces it)."""
    now = timezone.now()
    return bool(
        ConnectSession.objects.filter(pk=session_id, consumed_at=None, expires_at__gt=now).update(
            expires_at=now
        )
    )


def _clean_display_name(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DISPLAY_NAME:
        raise ConnectSessionRefused(
            "bad_request", 400, f"display_name: a string of at most {MAX_DISPLAY_NAME} characters."
        )
    if has_control_characters(value):
        raise ConnectSessionRefused("bad_request", 400, "display_name: no control characters.")
    return value.strip()


def _clean_return_url(value: object) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not return_urls.is_allowed(value):
        raise ConnectSessionRefused(
            "invalid_return_url", 400, "return_url is not on the portal's allowlist."
        )
    return value


@sensitive_variables("secret")
def look_at_link(*, secret: str, context: AuditContext) -> Link | None:
    """The link's session, marked opened the first time (audited once); None when unknown.
    A link that no longer works is audited as refused each time it is looked at."""
    row = ConnectSession.objects.filter(secret_digest=_digest(secret[:200])).first()
    if row is None:
        return None
    reason = _unusable_reason(row, timezone.now())
    with transaction.atomic():
        if reason:
            _record(Action.CONNECT_SESSION_REFUSED, row, context, reason=reason, failed=True)
        elif ConnectSession.objects.filter(pk=row.pk, opened_at=None).update(
            opened_at=timezone.now()
        ):
            _record(Action.CONNECT_SESSION_OPENED, row, context)
            # a migration's invitation: the customer counts as having opened a link from now on
            MigrationCustomer.objects.filter(last_session=row, link_opened_at=None).update(
                link_opened_at=timezone.now()
            )
    return Link(session_id=row.pk, user_id=row.user_id, reason=reason)


@sensitive_variables("secret")
def use_link(*, secret: str, context: AuditContext) -> tuple[ConnectSession, User]:
    """Consume the link (once, whoever races) and return its session and user to sign in;
    :class:`LinkUnusable` (audited when the link is known) otherwise."""
    digest = _digest(secret[:200])
    now = timezone.now()
    with transaction.atomic():
        row = ConnectSession.objects.select_related("user").filter(secret_digest=digest).first()
        if row is None:
            raise LinkUnusable("unknown")
        # One table, no join: a join makes Django write ``WHERE id IN (SELECT ...)``, which
        # PostgreSQL does not re-check after waiting for a racing UPDATE's row lock.
        used = row.user.is_active and ConnectSession.objects.filter(
            pk=row.pk, consumed_at=None, expires_at__gt=now
        ).update(consumed_at=now, opened_at=Coalesce("opened_at", now))
        reason = "" if used else (_unusable_reason(row, now) or "used")
        if reason:
            _record(Action.CONNECT_SESSION_REFUSED, row, context, reason=reason, failed=True)
        else:
            _record(Action.CONNECT_SESSION_SIGNED_IN, row, context)
    if reason:
        raise LinkUnusable(reason)
    return row, row.user


def _unusable_reason(row: ConnectSession, now: datetime) -> str:
    if row.consumed_at is not None:
        return "used"
    if row.expires_at <= now:
        return "expired"
    if not User.objects.filter(pk=row.user_id, is_active=True).exists():
        return "unknown"
    return ""


def outcome_of_failure(reason: str) -> str:
    """What a failed callback (``ConnectFailed.reason``) tells the app: ``cancelled`` when the
    customer declined at Zoho, ``failed`` otherwise, and "" for a callback that says nothing
    about this flow (no state, someone else's, a replay), which leaves the session open."""
    if reason in _NOT_THIS_FLOW:
        return ""
    return Outcome.CANCELLED if reason == "declined" else Outcome.FAILED


def finish_connect_session(
    *, session_id: str, user: User, outcome: str, grant: ZohoGrant | None, context: AuditContext
) -> str:
    """Record how the connection after the link ended (once) and return where to send the
    customer: the app's ``return_url`` with the outcome, or "" when it gave none."""
    try:
        pk = UUID(session_id)
    except ValueError:
        return ""
    now = timezone.now()
    with transaction.atomic():
        done = ConnectSession.objects.filter(
            pk=pk, user=user, outcome="", consumed_at__isnull=False
        ).update(outcome=outcome, finished_at=now, grant=grant)
        if not done:
            return ""
        row = ConnectSession.objects.get(pk=pk)
        _record(Action.CONNECT_SESSION_FINISHED, row, context, grant=grant, outcome=outcome)
        if outcome == Outcome.CONNECTED:  # a migration's invited customer has come over
            MigrationCustomer.objects.filter(last_session=row, connected_at=None).update(
                connected_at=now, grant=grant, updated_at=now
            )
    if not row.return_url or not return_urls.is_allowed(row.return_url):
        return ""  # re-checked: an entry removed since creation is no longer a destination
    return return_urls.with_outcome(
        row.return_url,
        outcome=outcome,
        grant_id=str(grant.pk) if grant else "",
        session_id=str(row.pk),
    )


def _record(
    action: str,
    row: ConnectSession,
    context: AuditContext,
    *,
    failed: bool = False,
    grant: ZohoGrant | None = None,
    **detail: str | bool,
) -> None:
    record_event(
        action=action,
        context=context,
        grant=grant,
        outcome=AuditEvent.Outcome.FAILURE if failed else AuditEvent.Outcome.SUCCESS,
        detail={"connect_session": str(row.pk), "user_id": row.user_id, **detail},
    )
