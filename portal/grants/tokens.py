"""The one token service: a fresh access token for a grant, refreshing at most once at a time.

Hot path: one indexed read and a decrypt. Slow path: lock the grant row, re-read it, and
refresh only if it is still not fresh enough, so however many callers (threads, processes,
machines) ask at once, one refresh reaches Zoho and everyone shares its result. The lock is
held during the HTTP call on purpose; the Zoho client's deadline bounds it, and waiters give
up after that deadline plus a margin with :class:`GrantBusy`.
"""

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.audit import record_event
from accounts.models import AuditEvent
from portal import zoho
from portal.crypto import TokenDecryptError, decrypt_token, encrypt_token
from portal.grants import early_warning
from portal.models import ZohoGrant

logger = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
HANDS_OUT = (ZohoGrant.Status.ACTIVE, ZohoGrant.Status.TROUBLE)
# The owner was deactivated by staff: no token until they are reactivated (the API's code).
OWNER_INACTIVE = "user_inactive"
Status = ZohoGrant.Status
Action = AuditEvent.Action


class GrantError(Exception):
    """A token could not be handed out; ``code`` is stable and safe to show."""

    code = "grant_error"

    def __init__(self, code: str | None = None, *, retry_after: int | None = None) -> None:
        self.code = code or self.code
        self.retry_after = retry_after
        super().__init__(self.code)


class GrantInactive(GrantError):
    """The grant does not hand out tokens in its status (``code`` is the status)."""


class GrantUnavailable(GrantError):
    """Zoho could not refresh now and no valid token is left; retry later."""

    code = "upstream_unavailable"


class GrantBusy(GrantError):
    """Another caller holds the grant's lock for longer than we wait."""

    code = "busy"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str = field(repr=False)
    expires_at: datetime
    api_domain: str
    refreshed: bool


def get_access_token(
    *, grant_id: object, min_valid: timedelta = REFRESH_MARGIN, force_refresh: bool = False
) -> IssuedToken:
    """A token valid for at least ``min_valid``; refreshes (once) only when needed."""
    if not force_refresh:
        grant = (
            ZohoGrant.objects.filter(pk=grant_id)
            .select_related("user")
            .only(*_HOT_FIELDS, "user__is_active")
            .first()
        )
        if grant is None:
            raise ZohoGrant.DoesNotExist
        if not grant.user.is_active:
            raise GrantInactive(OWNER_INACTIVE)
        if grant.status in HANDS_OUT and grant.access_token_is_fresh(
            at=timezone.now(), margin=min_valid
        ):
            return _issue(grant, refreshed=False)
    return _refresh_locked(grant_id=grant_id, min_valid=min_valid, force=force_refresh)


_HOT_FIELDS = ("id", "status", "access_token_encrypted", "access_token_expires_at", "api_domain")


@sensitive_variables("token")
def _issue(grant: ZohoGrant, *, refreshed: bool) -> IssuedToken:
    try:
        token = decrypt_token(grant.access_token_encrypted, context=str(grant.pk))
    except TokenDecryptError:
        raise GrantUnavailable("token_unreadable") from None
    assert grant.access_token_expires_at is not None
    return IssuedToken(token, grant.access_token_expires_at, grant.api_domain, refreshed)


def _refresh_locked(*, grant_id: object, min_valid: timedelta, force: bool) -> IssuedToken:
    started = timezone.now()
    failure: GrantError | None = None
    try:
        with transaction.atomic():
            _set_lock_timeout()
            grant = (
                ZohoGrant.objects.select_for_update(of=("self",))
                .select_related("user")
                .get(pk=grant_id)
            )
            if not grant.user.is_active:
                raise GrantInactive(OWNER_INACTIVE)
            if grant.status not in HANDS_OUT:
                raise GrantInactive(grant.status)
            shared = force and grant.last_refreshed_at and grant.last_refreshed_at >= started
            fresh = grant.access_token_is_fresh(at=timezone.now(), margin=min_valid)
            if (fresh and not force) or shared:
                return _issue(grant, refreshed=False)
            backing_off = _backing_off(grant)
            failure = backing_off or _refresh(grant)
            if failure is None:
                issued = _issue(grant, refreshed=True)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", "") == "55P03":  # lock_not_available
            raise GrantBusy(retry_after=1) from None
        raise
    # Leaving the block committed the refresh (or the failure's mark and audit).
    if failure is None:
        if grant.warning:  # a success may clear an early warning
            early_warning.note_outcome(grant_id=grant.pk, healthy=True)
        return issued
    if backing_off is None:  # Zoho was asked and failed: a sign for the early warning
        early_warning.note_outcome(grant_id=grant.pk, healthy=False)
    if isinstance(failure, GrantUnavailable) and grant.access_token_is_fresh(
        at=timezone.now(), margin=timedelta(0)
    ):
        return _issue(grant, refreshed=False)
    raise failure


def _backing_off(grant: ZohoGrant) -> GrantError | None:
    """After a transient failure (also one that waiters just watched happen), wait.

    Zoho is asked again only once ``retry_at`` has passed, so a hung or throttling Zoho sees
    one request per back-off period, not one per caller.
    """
    now = timezone.now()
    if grant.status == Status.TROUBLE and grant.retry_at and grant.retry_at > now:
        wait = int((grant.retry_at - now).total_seconds()) + 1
        return GrantUnavailable(retry_after=wait)
    return None


def _backoff(failures: int, retry_after: int | None) -> timedelta:
    """Exponential back-off with jitter: 2, 4, 8 … seconds, at most five minutes."""
    seconds = min(2 ** min(failures, 9), 300)
    seconds = max(seconds, retry_after or 0)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311


def _set_lock_timeout() -> None:
    """Wait for another refresh at most as long as a Zoho call can last, plus a margin."""
    milliseconds = int((float(settings.ZOHO_HTTP_TIMEOUT) + 5.0) * 1000)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = {milliseconds}")


@sensitive_variables("refresh_token", "fresh")
def _refresh(grant: ZohoGrant) -> GrantError | None:
    """Refresh a locked grant in place; return the failure to raise after commit, if any."""
    dc = zoho.data_centre(grant.data_centre)
    try:
        refresh_token = decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk))
        fresh = zoho.refresh(dc=dc, refresh_token=refresh_token)
    except TokenDecryptError:
        return _mark_failed(grant, zoho.ZohoRejected("token_unreadable"))
    except zoho.ZohoError as error:
        return _mark_failed(grant, error)
    now = timezone.now()
    was_trouble = grant.status == Status.TROUBLE
    if fresh.refresh_token:
        grant.refresh_token_encrypted = encrypt_token(fresh.refresh_token, context=str(grant.pk))
    grant.access_token_encrypted = encrypt_token(fresh.access_token, context=str(grant.pk))
    grant.access_token_expires_at = fresh.expires_at
    grant.api_domain = fresh.api_domain or grant.api_domain
    grant.status, grant.failure_count, grant.last_error = Status.ACTIVE, 0, ""
    grant.last_refreshed_at, grant.retry_at = now, None
    grant.save()
    record_event(
        action=Action.REFRESHED,
        grant=grant,
        detail={"recovered": was_trouble, "rotated": bool(fresh.refresh_token)},
    )
    return None


def _mark_failed(grant: ZohoGrant, error: zoho.ZohoError) -> GrantError:
    """Record a failed refresh on the locked row; tokens are never wiped here."""
    dead = isinstance(error, zoho.ZohoRejected | zoho.ZohoMisconfigured)
    first_of_kind = grant.last_error != error.code or grant.status == Status.ACTIVE
    grant.failure_count += 1
    grant.last_error = error.code
    grant.status = Status.NEEDS_RECONNECT if dead else Status.TROUBLE
    grant.retry_at = (
        None if dead else timezone.now() + _backoff(grant.failure_count, error.retry_after)
    )
    grant.save(update_fields=["failure_count", "last_error", "status", "retry_at", "updated_at"])
    if first_of_kind or dead:
        record_event(
            action=Action.REFRESH_FAILED,
            grant=grant,
            outcome=AuditEvent.Outcome.FAILURE,
            detail={"error": error.code, "status": grant.status},
        )
    logger.warning("refresh of grant %s failed: %s", grant.pk, error.code)
    if dead:
        return GrantInactive(Status.NEEDS_RECONNECT)
    return GrantUnavailable(retry_after=error.retry_after or 30)


def mark_rejected(*, grant_id: object, error: zoho.ZohoError) -> None:
    """Record that Zoho rejected a grant outside a refresh (e.g. Desk refused its token)."""
    with transaction.atomic():
        grant = ZohoGrant.objects.select_for_update().get(pk=grant_id)
        if grant.status in HANDS_OUT:
            _mark_failed(grant, zoho.ZohoRejected(error.code))


FORCE_REFRESH_INTERVAL = timedelta(seconds=60)


def force_refresh(*, grant_id: object) -> IssuedToken:
    """Refresh now (single-flight), unless the grant was refreshed within the last minute.

    Zoho allows 10 access tokens per refresh token per 10 minutes; a minute between forced
    refreshes keeps a button or an eager caller from spending that allowance.
    """
    grant = ZohoGrant.objects.filter(pk=grant_id).only("pk", "last_refreshed_at").first()
    if grant is None:
        raise ZohoGrant.DoesNotExist
    last = grant.last_refreshed_at
    if last and timezone.now() - last < FORCE_REFRESH_INTERVAL:
        return get_access_token(grant_id=grant_id, min_valid=timedelta(0))
    return get_access_token(grant_id=grant_id, force_refresh=True)
