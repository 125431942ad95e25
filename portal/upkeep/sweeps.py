"""Background upkeep: health checks, finishing revocations, purging old secrets.

Run by Procrastinate workers (``portal/tasks.py``) and by ``manage.py check_grants``.
Parallel workers split the work instead of queueing: a sweep claims a small batch of due
grants with ``SELECT … FOR UPDATE SKIP LOCKED`` and, in the same short transaction, moves
their due time past a lease, so no other worker picks them until the lease ends. A worker
killed mid-batch loses nothing: its grants fall due again when the lease ends, and every
step on a grant (token service, revocation, the outcome's record) commits on its own.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.audit import record_event
from accounts.models import AuditEvent, User
from portal.grants import client_health, dc_slots, early_warning, lifecycle, owner_alerts
from portal.grants.checkup import MAX_ZOHO_CALLS, CheckResult, probe_connection
from portal.grants.revocation import (
    PurgeOutcome,
    RevokeOutcome,
    abandon_revocation,
    finish_revocation,
    purge_secrets,
)
from portal.models import ZohoGrant

Status = ZohoGrant.Status
Action = AuditEvent.Action
FIRST_RETRY = timedelta(minutes=5)
REVOKE_FIRST_RETRY = timedelta(minutes=1)
REVOKE_MAX_RETRY = timedelta(hours=6)
PURGE_BATCH = 100
SLOT_WAIT = timedelta(minutes=1)


class CheckOutcome(StrEnum):
    HEALTHY = "healthy"
    NEEDS_RECONNECT = "needs_reconnect"
    TROUBLE = "trouble"
    # The grant's data centre rejects the portal's own client: nothing was learnt about it.
    SKIPPED = "skipped"


@dataclass
class CheckSummary:
    checked: int = 0
    healthy: int = 0
    needs_reconnect: int = 0
    trouble: int = 0
    skipped: int = 0

    def add(self, outcome: CheckOutcome) -> None:
        if outcome is CheckOutcome.SKIPPED:
            self.skipped += 1
            return
        self.checked += 1
        match outcome:
            case CheckOutcome.HEALTHY:
                self.healthy += 1
            case CheckOutcome.NEEDS_RECONNECT:
                self.needs_reconnect += 1
            case CheckOutcome.TROUBLE:
                self.trouble += 1


def _jittered(period: timedelta, spread: float) -> timedelta:
    """``period`` scaled by a random factor in [1 - spread, 1 + spread]."""
    return period * random.uniform(1 - spread, 1 + spread)  # noqa: S311


def _check_interval() -> timedelta:
    return timedelta(hours=float(settings.UPKEEP_CHECK_INTERVAL_HOURS))


def _lease(batch_size: int) -> timedelta:
    """How long a claimed batch stays invisible to other workers (a check makes at most
    ``MAX_ZOHO_CALLS`` Zoho calls, each bounded by the client's deadline)."""
    calls = MAX_ZOHO_CALLS
    per_grant = timedelta(seconds=calls * float(settings.ZOHO_HTTP_TIMEOUT) + 10)
    return per_grant * batch_size + timedelta(minutes=1)


def due_for_check(*, now: datetime) -> QuerySet[ZohoGrant]:
    """Grants whose health check is due (never checked, or their time has come).

    Grants of deactivated owners are left alone (no refresh for them) until reactivation;
    a subquery rather than a join keeps the claim's row locks on the grants only.
    """
    inactive = User.objects.filter(is_active=False).values("pk")
    return (
        ZohoGrant.objects.filter(status__in=lifecycle.CHECKED)
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
        .exclude(user__in=inactive)
    )


def _claim(queryset: QuerySet[ZohoGrant], *, field: str, batch_size: int) -> list[UUID]:
    """Lock up to ``batch_size`` rows nobody else holds and push ``field`` past a lease."""
    with transaction.atomic():
        ids = list(
            queryset.order_by(F(field).asc(nulls_first=True), "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch_size]
        )
        ZohoGrant.objects.filter(pk__in=ids).update(**{field: timezone.now() + _lease(batch_size)})
    return ids


class NotCheckable(Exception):
    """The grant is not Active or in Upstream trouble, so there is nothing to check."""


def make_all_due() -> int:
    """Make every live grant due now (``check_grants --all``); returns how many."""
    now = timezone.now()
    live = ZohoGrant.objects.filter(status__in=lifecycle.CHECKED)
    return live.update(next_check_at=now)


def check_due_grants(
    *, batch_size: int | None = None, on_checked: Callable[[CheckOutcome], None] | None = None
) -> CheckSummary:
    """Check every due grant, a claimed batch at a time."""
    summary = CheckSummary()
    batch_size = batch_size or int(settings.UPKEEP_BATCH_SIZE)
    while True:
        due = due_for_check(now=timezone.now())
        ids = _claim(due, field="next_check_at", batch_size=batch_size)
        if not ids:
            return summary
        for grant_id in ids:
            try:
                outcome = _check_within_dc_limit(grant_id)
            except (NotCheckable, ZohoGrant.DoesNotExist):
                continue  # revoked or deleted since it was claimed
            if outcome is None:
                continue
            summary.add(outcome)
            if on_checked:
                on_checked(outcome)


def _check_within_dc_limit(grant_id: UUID) -> CheckOutcome | None:
    """Check a claimed grant once one of its data centre's slots is free.

    Slots are PostgreSQL session advisory locks (``UPKEEP_CONCURRENCY_PER_DC`` per data
    centre, shared by every worker; ``portal.grants.dc_slots``). When none frees up within
    ``SLOT_WAIT`` the grant falls due again ``SLOT_WAIT`` later (``None``).
    """
    dc = ZohoGrant.objects.values_list("data_centre", flat=True).get(pk=grant_id)
    key = dc_slots.dc_slot_key(dc)
    limit = int(settings.UPKEEP_CONCURRENCY_PER_DC)
    slot = dc_slots.wait_for_slot(key, limit=limit, wait=SLOT_WAIT)
    if slot is None:
        handed_back = timezone.now() + SLOT_WAIT
        ZohoGrant.objects.filter(pk=grant_id).update(next_check_at=handed_back)
        return None
    try:
        return check_grant(grant_id=grant_id)
    finally:
        dc_slots.release_slot(key, slot)


def check_grant(*, grant_id: UUID) -> CheckOutcome:
    """One health check through the token service and Desk; records and schedules the next.

    Returns the outcome (:class:`CheckOutcome`).
    """
    grant = ZohoGrant.objects.only("status", "data_centre").get(pk=grant_id)
    if grant.status not in lifecycle.CHECKED:
        raise NotCheckable(grant_id)
    started = timezone.now()
    rejection = client_health.rejection_for(data_centre=grant.data_centre)
    if rejection and rejection.next_probe_at and rejection.next_probe_at > started:
        return CheckOutcome.SKIPPED  # no probe due; the claim's lease brings it back later
    result = probe_connection(grant_id=grant_id, refresh_first=rejection is not None)
    if result.code == client_health.PORTAL_MISCONFIGURED:
        return CheckOutcome.SKIPPED  # the portal's fault says nothing about this grant
    outcome = _record_check(grant_id, result, started)
    early_warning.evaluate_warning(grant_id=grant_id, healthy=outcome is CheckOutcome.HEALTHY)
    if outcome is CheckOutcome.NEEDS_RECONNECT:
        owner_alerts.alert_owner(grant_id=grant_id)
    return outcome


def _record_check(grant_id: UUID, result: CheckResult, started: datetime) -> CheckOutcome:
    now = timezone.now()
    with transaction.atomic():
        grant = ZohoGrant.objects.select_for_update().get(pk=grant_id)
        if result.ok:
            recovered = grant.check_failure_count > 0
            grant.check_failure_count = 0
            grant.next_check_at = now + _jittered(_check_interval(), 0.1)
            outcome = CheckOutcome.HEALTHY
            record_event(action=Action.CHECKED, grant=grant, detail={"recovered": recovered})
            if recovered:
                record_event(action=Action.RECOVERED, grant=grant, detail={"by": "health check"})
        else:
            grant.check_failure_count += 1
            dead = grant.status not in lifecycle.CHECKED
            outcome = (
                CheckOutcome.NEEDS_RECONNECT
                if grant.status == Status.NEEDS_RECONNECT
                else CheckOutcome.TROUBLE
            )
            grant.next_check_at = None if dead else now + _retry_delay(grant, now)
            record_event(
                action=Action.CHECK_FAILED,
                grant=grant,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={
                    "status": grant.status,
                    "message": result.message[:200],
                    "early_warning": not dead and not _refresh_failure_recorded(grant, started),
                },
            )
        grant.save(update_fields=["check_failure_count", "next_check_at", "updated_at"])
    return outcome


def _refresh_failure_recorded(grant: ZohoGrant, since: datetime) -> bool:
    """Whether the token service already audited a failed refresh during this check (then
    that event, not this one, counts toward the early warning: one failure, counted once)."""
    return AuditEvent.objects.filter(
        grant_id=grant.pk, action=Action.REFRESH_FAILED, created_at__gte=since
    ).exists()


def _retry_delay(grant: ZohoGrant, now: datetime) -> timedelta:
    """After a transient failure: 5, 10, 20 … minutes (jittered), at most the interval,
    and never before the token service's own back-off ends."""
    exponent = min(grant.check_failure_count - 1, 10)
    delay = min(_jittered(FIRST_RETRY * 2**exponent, 0.2), _check_interval())
    if grant.retry_at and grant.retry_at - now > delay:
        delay = grant.retry_at - now
    return delay


# -- revocations Zoho has not confirmed yet ---------------------------------------------


def finish_pending_revocations(*, batch_size: int | None = None) -> dict[str, int]:
    """Retry REVOKING grants whose back-off has passed; give up after the configured days."""
    counts = {"revoked": 0, "pending": 0, "abandoned": 0}
    batch_size = batch_size or int(settings.UPKEEP_BATCH_SIZE)
    while True:
        now = timezone.now()
        due = ZohoGrant.objects.filter(status=Status.REVOKING).filter(
            Q(retry_at__isnull=True) | Q(retry_at__lte=now)
        )
        ids = _claim(due, field="retry_at", batch_size=batch_size)
        if not ids:
            return counts
        for grant_id in ids:
            counts[_retry_revocation(grant_id)] += 1


def _retry_revocation(grant_id: UUID) -> str:
    give_up = timedelta(days=float(settings.UPKEEP_REVOKE_GIVE_UP_DAYS))
    if finish_revocation(grant_id=grant_id) == RevokeOutcome.REVOKED:
        return "revoked"
    grant = ZohoGrant.objects.get(pk=grant_id)
    now = timezone.now()
    since = grant.status_changed_at or grant.updated_at
    if now - since >= give_up:
        if abandon_revocation(grant_id=grant_id):  # and tells the owner and staff
            return "abandoned"
        return "revoked"
    exponent = min(grant.failure_count, 20)
    delay = min(_jittered(REVOKE_FIRST_RETRY * 2**exponent, 0.2), REVOKE_MAX_RETRY)
    ZohoGrant.objects.filter(pk=grant_id, status=Status.REVOKING).update(retry_at=now + delay)
    return "pending"


# -- secrets of grants nobody reconnected -----------------------------------------------


def purge_stale_secrets() -> int:
    """Revoke at Zoho, then wipe, the tokens of grants Needs reconnect for longer than the
    retention period; returns how many were wiped.

    Metadata and audit stay; reconnecting still works (it stores new tokens in place). A
    token Zoho could not be asked about keeps its ciphertext until a later run succeeds.
    One grant is locked at a time (never several around a Zoho call); each is tried once a run.
    """
    cutoff = timezone.now() - timedelta(days=float(settings.UPKEEP_PURGE_AFTER_DAYS))
    stale = ZohoGrant.objects.filter(
        status=Status.NEEDS_RECONNECT, status_changed_at__lte=cutoff
    ).filter(Q(refresh_token_encrypted__isnull=False) | Q(access_token_encrypted__isnull=False))
    purged = 0
    after: UUID | None = None
    while True:
        page = stale.filter(pk__gt=after) if after is not None else stale
        ids = list(page.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH])
        for grant_id in ids:
            if purge_secrets(grant_id=grant_id, stale_since=cutoff) is PurgeOutcome.PURGED:
                purged += 1
        if len(ids) < PURGE_BATCH:
            return purged
        after = ids[-1]
