"""Early warning: signs that a grant which still works is about to break.

Two signs (``ZohoGrant.Warning``), both computed from rows that exist anyway:

- **Repeated failures**: ``UPKEEP_WARNING_FAILURES`` (3) or more transient failures (timeouts,
  5xx, throttling, unreadable answers) within ``UPKEEP_WARNING_WINDOW_HOURS`` (24), counted in
  the audit log (indexed by grant and time): refresh failures the token service recorded with
  the grant left in Upstream trouble, and failed health checks that left the grant usable. A
  health check whose own refresh failure is already recorded counts once (``early_warning`` in
  its detail says whether it counts). The warning is cleared by a success (health check or
  refresh) once the failures have aged out of the window, so a grant that keeps flapping is not
  announced again at every success in between.
- **Token cap**: Zoho keeps at most 20 refresh tokens per Zoho user per client and silently
  invalidates the oldest when a 21st is created (reference/zoho-oauth.md §5: "Refresh tokens
  per user per client | 20; creating the 21st invalidates the oldest", from Zoho's
  token-limits.html). When the portal itself holds ``UPKEEP_WARNING_TOKEN_COUNT`` (15) or more
  for one data centre and Zoho user (grants of any portal user not yet revoked at Zoho, plus
  replaced tokens whose revocation failed, from the audit log), every usable grant of that Zoho
  user shows the warning; it is cleared when the count drops below the threshold.

A grant shows one warning at a time; the token cap wins (it will break the oldest grant for
sure). :func:`evaluate_warning` makes every change under the grant's row lock, audits each
transition once (``grant.warning_raised`` / ``grant.warning_cleared``), emits the
``grant.warning`` / ``grant.recovered`` events (``portal.grants.events``) and emails the owner
once per raised warning (not per evaluation), and again when it clears on an Active grant:
the mail job is queued in the transaction of the change and sent by a worker after commit, so
no mail server is ever waited on under the lock.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import record_event
from accounts.models import AuditEvent
from portal.grants import events, lifecycle, owner_alerts, wording
from portal.models import ZohoGrant

Status = ZohoGrant.Status
Kind = ZohoGrant.Warning
Action = AuditEvent.Action
ZOHO_TOKEN_CAP = 20


def transient_failures(*, grant_id: UUID, now: datetime) -> int:
    """Transient failures of the grant audited within the window."""
    since = now - timedelta(hours=float(settings.UPKEEP_WARNING_WINDOW_HOURS))
    refresh = Q(action=Action.REFRESH_FAILED, detail__status=Status.TROUBLE)
    check = Q(action=Action.CHECK_FAILED, detail__early_warning=True)
    events = AuditEvent.objects.filter(grant_id=grant_id, created_at__gt=since)
    return events.filter(refresh | check).count()


def tokens_held(*, data_centre: str, zoho_user_id: str) -> int:
    """Refresh tokens the portal minted for this Zoho user that may still count at Zoho."""
    same_user = ZohoGrant.objects.filter(data_centre=data_centre, zoho_user_id=zoho_user_id)
    live = same_user.filter(status__in=lifecycle.HELD_AT_ZOHO).count()
    unrevoked = AuditEvent.objects.filter(
        action=Action.SUPERSEDED_TOKEN_REVOKE_FAILED, grant_id__in=same_user.values("pk")
    ).count()
    return live + unrevoked


def evaluate_token_cap(
    *, data_centre: str, zoho_user_id: str, healthy_id: UUID | None = None
) -> None:
    """Evaluate every grant of one Zoho user (after a connect or a revocation changed the count).

    Each grant is locked on its own, one after the other. ``healthy_id`` is a grant that just
    proved itself (the one connected).
    """
    same_user = ZohoGrant.objects.filter(data_centre=data_centre, zoho_user_id=zoho_user_id)
    ids = same_user.filter(Q(status__in=lifecycle.MAY_WARN) | ~Q(warning="")).values_list(
        "pk", flat=True
    )
    for grant_id in list(ids):
        evaluate_warning(grant_id=grant_id, healthy=True if grant_id == healthy_id else None)


def evaluate_warning(*, grant_id: UUID, healthy: bool | None = None) -> str:
    """Raise, keep, switch or clear the grant's warning; returns the warning now set.

    ``healthy`` is True right after a success (check, refresh, connect), False right after a
    failure, None when the caller learnt nothing about this grant.
    """
    now = timezone.now()
    with transaction.atomic():
        grant = (
            ZohoGrant.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=grant_id)
        )
        wanted, facts = _wanted(grant, healthy, now)
        previous = grant.warning
        if wanted == previous:
            return wanted
        grant.warning, grant.warning_since = wanted, (now if wanted else None)
        grant.save(update_fields=["warning", "warning_since", "updated_at"])
        if wanted:
            if previous:
                record_event(
                    action=Action.WARNING_CLEARED, grant=grant, detail={"warning": previous}
                )
            _raise(grant, facts)
        else:
            _clear(grant, previous)
    return wanted


def _clear(grant: ZohoGrant, previous: str) -> None:
    """Audit the clearing; on a working (Active) grant it is a recovery: the backend gets a
    ``grant.recovered`` event and the owner, who was emailed at the raise, an email."""
    recovered = grant.status == Status.ACTIVE
    emailed = recovered and grant.user.has_alert_emails and grant.user.is_active
    if emailed:
        owner_alerts.tell_recovered(grant=grant, warning=previous)
    detail = {"warning": previous, "emailed": emailed}
    record_event(action=Action.WARNING_CLEARED, grant=grant, detail=detail)
    if recovered:
        events.emit(event_type=events.EventType.RECOVERED, grant=grant)


def _wanted(grant: ZohoGrant, healthy: bool | None, now: datetime) -> tuple[str, dict[str, Any]]:
    if grant.status not in lifecycle.MAY_WARN:
        return Kind.NONE, {}
    held = tokens_held(data_centre=grant.data_centre, zoho_user_id=grant.zoho_user_id)
    threshold = int(settings.UPKEEP_WARNING_TOKEN_COUNT)
    if held >= threshold:
        return Kind.TOKEN_CAP, {"held": held, "threshold": threshold}
    failures = transient_failures(grant_id=grant.pk, now=now)
    threshold = int(settings.UPKEEP_WARNING_FAILURES)
    facts = {"failures": failures, "threshold": threshold}
    if failures >= threshold:
        return Kind.REPEATED_FAILURES, facts
    if grant.warning == Kind.REPEATED_FAILURES and healthy is not True:
        return Kind.REPEATED_FAILURES, facts  # kept until a success after they aged out
    return Kind.NONE, {}


def _raise(grant: ZohoGrant, facts: dict[str, Any]) -> None:
    """Queue the owner's email and audit the raise, both in the raise's transaction."""
    emailed = grant.user.has_alert_emails and grant.user.is_active
    if emailed:
        owner_alerts.tell_warning(grant=grant, facts=_facts_sentence(grant, facts))
    detail = {"warning": grant.warning, "emailed": emailed, **facts}
    record_event(action=Action.WARNING_RAISED, grant=grant, detail=detail)
    events.emit(event_type=events.EventType.WARNING, grant=grant)


def _facts_sentence(grant: ZohoGrant, facts: dict[str, Any]) -> str:
    """What exactly was seen, for the email (no names, no secrets)."""
    if grant.warning == Kind.REPEATED_FAILURES:
        return wording.repeated_failures_facts(failures=facts["failures"])
    oldest = (
        ZohoGrant.objects.filter(
            data_centre=grant.data_centre,
            zoho_user_id=grant.zoho_user_id,
            status__in=lifecycle.HELD_AT_ZOHO,
        )
        .order_by("connected_at", "created_at")
        .values_list("pk", flat=True)
        .first()
    )
    return wording.token_cap_facts(
        held=facts["held"], cap=ZOHO_TOKEN_CAP, is_oldest=oldest == grant.pk
    )
