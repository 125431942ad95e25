"""The one token service: a fresh access token for a grant, refreshing at most once at a time.

Whether to hand out the stored token, refresh it or refuse is decided by
:func:`portal.grants.token_decision.decide` alone, a pure function the API's hot path calls too.
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
from uuid import UUID

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.audit import record_event
from accounts.models import AuditEvent
from portal import zoho
from portal.crypto import TokenDecryptError, decrypt_token, encrypt_token
from portal.grants import client_health, early_warning, events, lifecycle
from portal.grants.token_decision import (
    REFRESH_TOO_SOON,
    Decision,
    Force,
    GrantSnapshot,
    Verdict,
    decide,
)
from portal.models import ZohoGrant

logger = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
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


class PortalMisconfigured(GrantUnavailable):
    """Zoho rejects the portal's own client in the grant's data centre: the grant is fine,
    refreshes there wait for the next probe (``retry_after``)."""

    code = client_health.PORTAL_MISCONFIGURED


class GrantBusy(GrantError):
    """Another caller holds the grant's lock for longer than we wait."""

    code = "busy"


class RefreshTooSoon(GrantError):
    """A forced refresh within ``FORCE_REFRESH_INTERVAL`` of the last one; see ``retry_after``."""

    code = REFRESH_TOO_SOON


@dataclass(frozen=True)
class IssuedToken:
    access_token: str = field(repr=False)
    expires_at: datetime
    api_domain: str
    refreshed: bool


def refusal(decision: Decision) -> GrantError:
    """The exception for a refusing :class:`Decision`."""
    if decision.code == REFRESH_TOO_SOON:
        return RefreshTooSoon(retry_after=decision.retry_after)
    return GrantInactive(decision.code)


# -- handing out and refreshing ----------------------------------------------------------


def get_access_token(
    *,
    grant_id: UUID,
    min_valid: timedelta = REFRESH_MARGIN,
    force_refresh: bool = False,
    token_rejected: bool = False,
) -> IssuedToken:
    """A token valid for at least ``min_valid``; refreshes (once) only when needed.

    A token refreshed within the last minute is handed out while it is valid at all, even
    when Zoho made it shorter than ``min_valid``: ``expires_at`` always says the truth.

    ``force_refresh`` asks for a new token (refused with :class:`RefreshTooSoon` within a
    minute of the last refresh); ``token_rejected`` says Zoho refused the stored one.
    """
    asked_at = timezone.now()
    force = Force.REJECTED if token_rejected else Force.ASKED if force_refresh else Force.NO
    grant = (
        ZohoGrant.objects.filter(pk=grant_id)
        .select_related("user")
        .only(*_HOT_FIELDS, "user__is_active")
        .first()
    )
    if grant is None:
        raise ZohoGrant.DoesNotExist
    decision = decide(GrantSnapshot.of(grant), now=asked_at, min_valid=min_valid, force=force)
    if decision.verdict is Verdict.REFUSE:
        raise refusal(decision)
    if decision.verdict is Verdict.HAND_OUT:
        return _issue(grant, refreshed=False)
    return refresh_access_token(
        grant_id=grant_id, min_valid=min_valid, force=force, asked_at=asked_at
    )


_HOT_FIELDS = (
    "id",
    "status",
    "access_token_encrypted",
    "access_token_expires_at",
    "api_domain",
    "last_refreshed_at",
)


@sensitive_variables("token")
def _issue(grant: ZohoGrant, *, refreshed: bool) -> IssuedToken:
    try:
        token = decrypt_token(grant.access_token_encrypted, context=str(grant.pk))
    except TokenDecryptError:
        raise GrantUnavailable("token_unreadable") from None
    assert grant.access_token_expires_at is not None
    return IssuedToken(token, grant.access_token_expires_at, grant.api_domain, refreshed)


def refresh_access_token(
    *, grant_id: UUID, min_valid: timedelta, force: Force, asked_at: datetime
) -> IssuedToken:
    """The slow path: lock the row, decide again on what it holds now, refresh if still due.

    Whoever waited for the lock usually finds the token another caller just refreshed.
    While Zoho rejects the portal's client in the grant's data centre, only the probe goes on.
    """
    paused = _client_paused(grant_id)
    if paused is not None:
        return _while_paused(grant_id, paused, force=force)
    backing_off: GrantError | None = None
    failure: GrantError | None = None
    try:
        with transaction.atomic():
            _set_lock_timeout()
            grant = (
                ZohoGrant.objects.select_for_update(of=("self",))
                .select_related("user")
                .get(pk=grant_id)
            )
            decision = decide(
                GrantSnapshot.of(grant),
                now=timezone.now(),
                min_valid=min_valid,
                force=force,
                asked_at=asked_at,
            )
            if decision.verdict is Verdict.REFUSE:
                raise refusal(decision)
            if decision.verdict is Verdict.HAND_OUT:
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
            early_warning.evaluate_warning(grant_id=grant.pk, healthy=True)
        return issued
    return _after_failure(grant, failure, asked_zoho=backing_off is None)


def _client_paused(grant_id: UUID) -> PortalMisconfigured | None:
    """The refusal while the grant's data centre rejects the portal's client, unless this
    caller takes the due probe (then ``None``: refresh)."""
    rejection = client_health.rejection_for_grant(grant_id=grant_id)
    if rejection is None:
        return None
    now = timezone.now()
    if client_health.claim_probe(rejection, now=now):
        return None
    return PortalMisconfigured(retry_after=rejection.retry_after(now=now))


def _while_paused(grant_id: UUID, refusal: PortalMisconfigured, *, force: Force) -> IssuedToken:
    """No refresh now; a stored token that is still valid is still handed out, unless the
    caller asked for a new one (a button, or Zoho refused the stored one)."""
    grant = ZohoGrant.objects.only(*_HOT_FIELDS).get(pk=grant_id)
    if (
        force is Force.NO
        and grant.status in lifecycle.HANDS_OUT
        and grant.access_token_is_fresh(at=timezone.now(), margin=timedelta(0))
    ):
        return _issue(grant, refreshed=False)
    raise refusal


def _after_failure(grant: ZohoGrant, failure: GrantError, *, asked_zoho: bool) -> IssuedToken:
    """Note the failure for the early warning; a transient one still hands out a valid token.

    The portal's own misconfiguration says nothing about the grant, so it is no warning sign.
    """
    # Zoho was asked and failed: a sign for the early warning
    if asked_zoho and not isinstance(failure, PortalMisconfigured):
        early_warning.evaluate_warning(grant_id=grant.pk, healthy=False)
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
    except zoho.ZohoMisconfigured as error:
        return _client_rejected(grant, error)
    except zoho.ZohoError as error:
        return _mark_failed(grant, error)
    now = timezone.now()
    was_trouble = grant.status == Status.TROUBLE
    if fresh.refresh_token:
        grant.refresh_token_encrypted = encrypt_token(fresh.refresh_token, context=str(grant.pk))
    grant.access_token_encrypted = encrypt_token(fresh.access_token, context=str(grant.pk))
    grant.access_token_expires_at = fresh.expires_at
    grant.api_domain = fresh.api_domain or grant.api_domain
    lifecycle.move(grant, to=Status.ACTIVE)
    grant.failure_count, grant.last_error = 0, ""
    grant.last_refreshed_at, grant.retry_at = now, None
    grant.save()
    record_event(
        action=Action.REFRESHED,
        grant=grant,
        detail={"recovered": was_trouble, "rotated": bool(fresh.refresh_token)},
    )
    if was_trouble:
        events.emit(event_type=events.EventType.RECOVERED, grant=grant)
    client_health.note_working(data_centre=grant.data_centre)
    return None


def _client_rejected(grant: ZohoGrant, error: zoho.ZohoError) -> GrantError:
    """Zoho refused the portal's client, not this grant: the grant row stays as it was."""
    rejection = client_health.note_rejected(data_centre=grant.data_centre, error=error.code)
    logger.warning("refresh of grant %s refused: the portal's client (%s)", grant.pk, error.code)
    return PortalMisconfigured(retry_after=rejection.retry_after(now=timezone.now()))


def _mark_failed(grant: ZohoGrant, error: zoho.ZohoError) -> GrantError:
    """Record a failed refresh on the locked row; tokens are never wiped here."""
    dead = isinstance(error, zoho.ZohoRejected)
    first_of_kind = grant.last_error != error.code or grant.status == Status.ACTIVE
    grant.failure_count += 1
    grant.last_error = error.code
    lifecycle.move(grant, to=Status.NEEDS_RECONNECT if dead else Status.TROUBLE)
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
        events.emit(event_type=events.EventType.NEEDS_RECONNECT, grant=grant)
        return GrantInactive(Status.NEEDS_RECONNECT)
    return GrantUnavailable(retry_after=error.retry_after or 30)


def mark_rejected(*, grant_id: UUID, error: zoho.ZohoError) -> None:
    """Record that Zoho rejected a grant outside a refresh (e.g. Desk refused its token)."""
    with transaction.atomic():
        grant = ZohoGrant.objects.select_for_update().get(pk=grant_id)
        if grant.status in lifecycle.HANDS_OUT:
            _mark_failed(grant, zoho.ZohoRejected(error.code))


def force_refresh(*, grant_id: UUID) -> IssuedToken:
    """Refresh now (single-flight); :class:`RefreshTooSoon` within a minute of the last one."""
    return get_access_token(grant_id=grant_id, force_refresh=True)
